#include "proxier/ipvs/ipvs_reconciler.h"

#include <algorithm>

#include "proxier/core/node_port_addresses.h"

namespace kpx {
namespace {

bool FamilyEnabled(const IpvsOptions& options, IpFamily f) {
  return std::find(options.families.begin(), options.families.end(), f) != options.families.end();
}

IpvsService MakeService(const ServicePortInfo& info, const IpAddress& ip, int32_t port,
                        const IpvsOptions& options) {
  IpvsService s;
  s.key.protocol = info.protocol;
  s.key.address = ip;
  s.key.port = static_cast<uint16_t>(port);
  s.scheduler = options.scheduler.empty() ? "rr" : options.scheduler;
  s.netmask = IpvsFullNetmask(ip.family());
  if (info.session_affinity_client_ip) {
    s.flags = kIpvsFlagPersistent;
    s.timeout = static_cast<uint32_t>(info.session_affinity_timeout_seconds);
  }
  return s;
}

std::map<IpvsDestinationKey, IpvsDestination> Dests(const EndpointList& endpoints) {
  std::map<IpvsDestinationKey, IpvsDestination> out;
  for (const auto& ep : endpoints) {
    IpvsDestination d;
    d.key.address = ep->ip;
    d.key.port = static_cast<uint16_t>(ep->port);
    d.weight = 1;
    out[d.key] = d;
  }
  return out;
}

void Add(ServicePortIpvs& out, const ServicePortInfo& info, const IpAddress& ip, int32_t port,
         VirtualServerKind kind, const EndpointList& endpoints, const IpvsOptions& options) {
  DesiredVirtualServer vs;
  vs.service = MakeService(info, ip, port, options);
  vs.dests = Dests(endpoints);
  vs.kind = kind;
  vs.owner = info.name;
  out.servers.emplace(vs.service.key, std::move(vs));
}

bool IsLinkLocalV6(const IpAddress& ip) {
  return ip.family() == IpFamily::kIPv6 && ip.bytes()[0] == 0xfe && (ip.bytes()[1] & 0xc0) == 0x80;
}

}  // namespace

std::vector<IpAddress> SelectNodePortAddresses(const std::vector<IpAddress>& local,
                                               const IpvsOptions& options, const NodeState& node) {
  const NodePortAddresses npa{options.node_port_addresses, options.node_port_primary};
  std::set<IpAddress> out;
  for (IpFamily f : kIpFamilies) {
    const bool all = npa.MatchesAll(f, node);
    const std::vector<Cidr> in_force = npa.Effective(f, node);
    for (const IpAddress& ip : local) {
      if (ip.family() != f || ip.IsLoopback() || ip.IsUnspecified() || IsLinkLocalV6(ip)) continue;
      bool keep = all;
      for (const Cidr& c : in_force) keep = keep || c.Contains(ip);
      if (keep) out.insert(ip);
    }
  }
  return {out.begin(), out.end()};
}

ServicePortIpvs BuildServicePortIpvs(const ServicePortState& sp, const IpvsOptions& options,
                                     const std::vector<IpAddress>& node_port_ips) {
  ServicePortIpvs out;
  const ServicePortInfo& info = sp.info;
  for (IpFamily f : kIpFamilies) {
    if (!FamilyEnabled(options, f)) continue;
    const auto& cluster_ip = info.ClusterIp(f);
    // A service port exists in a family only if it has a ClusterIP there.
    if (!cluster_ip) continue;
    const EndpointSelection& sel = sp.For(f);
    const EndpointList& internal = info.InternalPolicyLocal() ? sel.local() : sel.cluster();
    const EndpointList& external = info.ExternalPolicyLocal() ? sel.local() : sel.cluster();

    Add(out, info, *cluster_ip, info.port, VirtualServerKind::kClusterIp, internal, options);
    out.bound_addresses.insert(*cluster_ip);
    for (const IpAddress& ip : info.external_ips) {
      if (ip.family() != f) continue;
      Add(out, info, ip, info.port, VirtualServerKind::kExternalIp, external, options);
      out.bound_addresses.insert(ip);
    }
    for (const IpAddress& ip : info.load_balancer_ips) {
      if (ip.family() != f) continue;
      Add(out, info, ip, info.port, VirtualServerKind::kLoadBalancer, external, options);
      out.bound_addresses.insert(ip);
    }
    if (info.node_port != 0) {
      for (const IpAddress& ip : node_port_ips) {
        if (ip.family() != f) continue;
        Add(out, info, ip, info.node_port, VirtualServerKind::kNodePort, external, options);
      }
    }
  }
  return out;
}

DesiredIpvs BuildDesiredIpvs(const DesiredState& state, const IpvsOptions& options,
                             const std::vector<IpAddress>& candidate_node_ips) {
  DesiredIpvs out;
  const std::vector<IpAddress> node_port_ips =
      SelectNodePortAddresses(candidate_node_ips, options, state.node);
  for (const auto& [name, sp] : state.services) {
    ServicePortIpvs port = BuildServicePortIpvs(*sp, options, node_port_ips);
    // Two service ports claiming the same (ip, port, protocol) is a user error the API server
    // mostly prevents; the first in sorted order wins, deterministically.
    for (auto& [key, vs] : port.servers) out.servers.emplace(key, std::move(vs));
    out.bound_addresses.merge(port.bound_addresses);
  }
  return out;
}

bool OwnsVirtualServer(const IpvsServiceKey& key, const std::set<IpAddress>& dummy_addresses,
                       const std::set<IpAddress>& node_port_ips, const IpvsOptions& options) {
  if (dummy_addresses.count(key.address)) return true;
  return node_port_ips.count(key.address) && key.port >= options.node_port_min &&
         key.port <= options.node_port_max;
}

bool ServiceMatches(const IpvsService& want, const IpvsService& have) {
  if (want.key != have.key || want.scheduler != have.scheduler) return false;
  if (want.persistent() != have.persistent()) return false;
  if (want.persistent() && (want.timeout != have.timeout || want.netmask != have.netmask)) {
    return false;
  }
  return true;
}

namespace {

// PlanIpvs's operations in their order, each handed to `emit` (called twice: once to count, once
// to fill a vector of exactly that size: a full sync plans ~10^5 operations of 160 bytes, and
// gathering them by kind first held them twice).
template <typename Emit>
void EmitPlan(const DesiredIpvs& desired, const ObservedIpvs& observed,
              const std::set<IpAddress>& node_port_ips, const IpvsOptions& options, Emit&& emit) {
  static const IpvsDestinationList kNone;
  auto have_of = [&](const IpvsServiceKey& key) -> const ObservedServer* {
    auto have = observed.servers.find(key);
    return have == observed.servers.end() || !have->second.service ? nullptr : &have->second;
  };
  // Services added or updated, then destinations added or updated.
  for (const auto& [key, vs] : desired.servers) {
    const ObservedServer* have = have_of(key);
    if (!have) {
      emit({IpvsOpKind::kAddService, vs.service, {}, {}});
    } else if (!ServiceMatches(vs.service, *have->service)) {
      emit({IpvsOpKind::kUpdateService, vs.service, {}, {}});
    }
  }
  for (const auto& [key, vs] : desired.servers) {
    const ObservedServer* have = have_of(key);
    const IpvsDestinationList& have_dests = have ? have->dests : kNone;
    for (const auto& [dkey, dest] : vs.dests) {
      const std::optional<IpvsDestination> hd = have_dests.Find(dkey);
      if (!hd) {
        emit({IpvsOpKind::kAddDest, vs.service, dest, {}});
      } else if (hd->weight != dest.weight || hd->forward_method != dest.forward_method) {
        emit({IpvsOpKind::kUpdateDest, vs.service, dest, {}});
      }
    }
  }
  for (const IpAddress& ip : desired.bound_addresses) {
    if (!observed.bound_addresses.count(ip)) emit({IpvsOpKind::kBindAddress, {}, {}, ip});
  }
  // Then what goes: destinations retired, services deleted, addresses unbound.
  for (const auto& [key, vs] : desired.servers) {
    const ObservedServer* have = have_of(key);
    if (!have) continue;
    for (const IpvsDestination& dest : have->dests) {
      if (!vs.dests.count(dest.key)) emit({IpvsOpKind::kRetireDest, vs.service, dest, {}});
    }
  }
  // Ownership is judged on the addresses the dummy holds now plus those it is about to hold, so
  // a service left behind by a crash between "add service" and "bind" is still recognised.
  auto on_dummy = [&](const IpAddress& ip) {
    return observed.bound_addresses.count(ip) || desired.bound_addresses.count(ip);
  };
  static const std::set<IpAddress> kNoAddresses;
  for (const auto& [key, server] : observed.servers) {
    if (!server.service || desired.servers.count(key)) continue;
    if (!on_dummy(key.address) && !OwnsVirtualServer(key, kNoAddresses, node_port_ips, options)) {
      continue;
    }
    emit({IpvsOpKind::kDeleteService, *server.service, {}, {}});
  }
  for (const IpAddress& ip : observed.bound_addresses) {
    if (!desired.bound_addresses.count(ip)) emit({IpvsOpKind::kUnbindAddress, {}, {}, ip});
  }
}

}  // namespace

std::vector<IpvsOp> PlanIpvs(const DesiredIpvs& desired, const ObservedIpvs& observed,
                             const std::set<IpAddress>& node_port_ips, const IpvsOptions& options) {
  size_t n = 0;
  EmitPlan(desired, observed, node_port_ips, options, [&](IpvsOp&&) { ++n; });
  std::vector<IpvsOp> out;
  out.reserve(n);
  EmitPlan(desired, observed, node_port_ips, options,
           [&](IpvsOp&& op) { out.push_back(std::move(op)); });
  return out;
}

std::string IpvsOp::ToString() const {
  switch (kind) {
    case IpvsOpKind::kAddService:
      return "add-service " + service.key.ToString() + " " + service.scheduler +
             (service.persistent() ? " persistent=" + std::to_string(service.timeout) : "");
    case IpvsOpKind::kUpdateService:
      return "update-service " + service.key.ToString() + " " + service.scheduler +
             (service.persistent() ? " persistent=" + std::to_string(service.timeout) : "");
    case IpvsOpKind::kAddDest:
      return "add-dest " + service.key.ToString() + " " + dest.key.ToString();
    case IpvsOpKind::kUpdateDest:
      return "update-dest " + service.key.ToString() + " " + dest.key.ToString() +
             " weight=" + std::to_string(dest.weight);
    case IpvsOpKind::kBindAddress:
      return "bind " + address.ToString();
    case IpvsOpKind::kRetireDest:
      return "retire-dest " + service.key.ToString() + " " + dest.key.ToString();
    case IpvsOpKind::kDeleteService:
      return "delete-service " + service.key.ToString();
    case IpvsOpKind::kUnbindAddress:
      return "unbind " + address.ToString();
  }
  return "?";
}

}  // namespace kpx
