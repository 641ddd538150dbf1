#include "proxier/userspace/frontend_spec.h"

#include <algorithm>

namespace kpx {

std::string FrontendKey::ToString() const {
  std::string s = service.ToString();
  if (role == FrontendRole::kExternal) s += " (external)";
  return s;
}

namespace {

std::vector<Backend> ToBackends(const EndpointList& endpoints) {
  std::vector<Backend> out;
  out.reserve(endpoints.size());
  for (const auto& ep : endpoints) {
    if (ep->port == 0) continue;
    out.push_back(Backend{ep->ip, ep->port});
  }
  return out;
}

bool Has(const std::vector<IpFamily>& families, IpFamily f) {
  return std::find(families.begin(), families.end(), f) != families.end();
}

}  // namespace

FrontendPlan PlanFrontends(const DesiredState& state, const std::vector<IpFamily>& families) {
  FrontendPlan plan;
  for (const auto& [name, sps] : state.services) {
    PlanServicePortFrontends(name, *sps, families, plan);
  }
  return plan;
}

void PlanServicePortFrontends(const ServicePortName& name, const ServicePortState& state,
                              const std::vector<IpFamily>& families, FrontendPlan& plan) {
  {
    const ServicePortState* sps = &state;
    const ServicePortInfo& info = sps->info;
    if (info.protocol == Protocol::kSCTP) {
      plan.skipped_sctp.push_back(name);
      return;
    }
    const bool internal_local = info.InternalPolicyLocal();
    const bool external_local = info.ExternalPolicyLocal();
    const bool need_external = info.ExternallyAccessible() && external_local != internal_local;

    auto make = [&](FrontendRole role, bool local) {
      FrontendSpec spec;
      spec.key = FrontendKey{name, role};
      spec.protocol = info.protocol;
      spec.affinity_client_ip = info.session_affinity_client_ip;
      spec.affinity_timeout = std::chrono::seconds(info.session_affinity_timeout_seconds);
      for (IpFamily f : families) {
        const EndpointSelection& sel = sps->For(f);
        spec.backends[static_cast<int>(f)] = ToBackends(local ? sel.local() : sel.cluster());
      }
      return spec;
    };
    FrontendSpec internal = make(FrontendRole::kInternal, internal_local);
    std::optional<FrontendSpec> external;
    if (need_external) external = make(FrontendRole::kExternal, external_local);

    // Where external destinations go, per chain (see the header).
    FrontendSpec& from_outside = external ? *external : internal;
    FrontendSpec& from_node = (!internal_local || !external) ? internal : *external;

    for (IpFamily f : kIpFamilies) {
      if (!Has(families, f)) continue;
      if (const auto& cip = info.ClusterIp(f)) {
        internal.portals.push_back({f, *cip, info.port, true, true, "cluster IP", false, {}});
      }
      auto add_external = [&](std::optional<IpAddress> ip, int32_t port, const char* kind,
                              std::vector<Cidr> ranges = {}) {
        // Source ranges restrict traffic from other hosts; the node's own traffic is not
        // filtered (kube-proxy lets the node through its firewall chain as well). Ranges given
        // only for the other family still restrict this one, to nobody.
        const bool restricted = !ranges.empty();
        std::erase_if(ranges, [&](const Cidr& c) { return c.family() != f; });
        const PortalDestination outside{f, ip, port, true, false, kind, restricted, ranges};
        const PortalDestination node{f, ip, port, false, true, kind, false, {}};
        if (&from_outside == &from_node && !restricted) {
          from_outside.portals.push_back({f, ip, port, true, true, kind, false, {}});
        } else {
          from_outside.portals.push_back(outside);
          from_node.portals.push_back(node);
        }
      };
      if (info.node_port != 0) add_external(std::nullopt, info.node_port, "node port");
      for (const auto& ip : info.external_ips) {
        if (ip.family() == f) add_external(ip, info.port, "external IP");
      }
      for (const auto& ip : info.load_balancer_ips) {
        if (ip.family() == f) {
          add_external(ip, info.port, "load balancer IP",
                       info.load_balancer_source_ranges.ToVector());
        }
      }
    }
    plan.frontends.emplace(internal.key, std::move(internal));
    if (external) plan.frontends.emplace(external->key, std::move(*external));
  }
}

}  // namespace kpx
