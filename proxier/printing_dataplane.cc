#include "proxier/printing_dataplane.h"

#include <sstream>

namespace kpx {

namespace {

std::string PolicyName(TrafficPolicy p) { return p == TrafficPolicy::kLocal ? "Local" : "Cluster"; }

void List(std::ostream& os, const char* label, const EndpointList& eps) {
  os << "      " << label << ":";
  if (eps.empty()) os << " (none)";
  for (const auto& e : eps) {
    os << " " << e->ToString();
    if (e->is_local) os << "(local)";
    if (!e->ready) os << (e->terminating ? "(terminating)" : "(not-ready)");
  }
  os << "\n";
}

}  // namespace

std::string PrintingDataplane::Format(const DesiredState& state) {
  std::ostringstream os;
  os << "node " << state.node.name;
  if (!state.node.zone.empty()) os << " zone=" << state.node.zone;
  for (const auto& a : state.node.addresses) os << " " << a.ToString();
  os << "\n";
  for (const auto& [name, svc] : state.services) {
    const auto& i = svc->info;
    os << name.ToString() << " " << ProtocolName(i.protocol) << " port " << i.port;
    if (i.node_port) os << " nodePort " << i.node_port;
    if (i.session_affinity_client_ip) {
      os << " affinity=ClientIP/" << i.session_affinity_timeout_seconds << "s";
    }
    os << " internal=" << PolicyName(i.internal_policy)
       << " external=" << PolicyName(i.external_policy) << "\n";
    for (IpFamily f : kIpFamilies) {
      const auto& ip = i.ClusterIp(f);
      if (!ip) continue;
      os << "  " << IpFamilyName(f) << " clusterIP " << ip->ToString();
      for (const auto& e : i.external_ips) {
        if (e.family() == f) os << " externalIP " << e.ToString();
      }
      for (const auto& e : i.load_balancer_ips) {
        if (e.family() == f) os << " loadBalancer " << e.ToString();
      }
      os << "\n";
      const auto& sel = svc->For(f);
      if (!sel.has_any_endpoints()) {
        os << "      no usable endpoints: connections are rejected\n";
        continue;
      }
      if (i.UsesClusterEndpoints()) List(os, "cluster", sel.cluster());
      if (i.UsesLocalEndpoints()) List(os, "local", sel.local());
    }
  }
  return os.str();
}

Status PrintingDataplane::Apply(const DesiredState& state, bool full) {
  out_ << "--- desired state #" << state.generation << (full ? " (full)" : "") << ": "
       << state.services.size() << " service ports, " << state.changed.size() << " changed\n"
       << Format(state) << std::flush;
  return out_ ? Status::Ok() : Status::Error("cannot write the desired state");
}

}  // namespace kpx
