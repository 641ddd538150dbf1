#include "proxier/nftables/nft_elements.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "proxier/nftables/nft_layout.h"

namespace kpx {

namespace {

uint8_t ProtoNumber(Protocol p) {
  switch (p) {
    case Protocol::kTCP:
      return 6;
    case Protocol::kUDP:
      return 17;
    case Protocol::kSCTP:
      return 132;
  }
  return 0;
}

size_t AddrLen(IpFamily f) { return f == IpFamily::kIPv4 ? 4 : 16; }

std::string Addr(const IpAddress& ip) {
  return std::string(reinterpret_cast<const char*>(ip.bytes().data()), AddrLen(ip.family()));
}

// A port in network order, padded to a register word.
std::string Port(int port) {
  std::string s(4, '\0');
  s[0] = static_cast<char>((port >> 8) & 0xff);
  s[1] = static_cast<char>(port & 0xff);
  return s;
}

std::string Proto(Protocol p) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(ProtoNumber(p));
  return s;
}

// The last address of a prefix.
IpAddress RangeEnd(const Cidr& c) {
  std::array<uint8_t, 16> b = c.address().bytes();
  const int len = c.family() == IpFamily::kIPv4 ? 32 : 128;
  for (int i = c.prefix_length(); i < len; ++i) b[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  return IpAddress::FromBytes(c.family(), b);
}

NftValue Goto(const std::string& chain) { return NftValue{"", true, NFT_GOTO, chain}; }
NftValue Drop() { return NftValue{"", true, NF_DROP, ""}; }

}  // namespace

uint32_t AffinityTimeout(const ServicePortInfo& info) {
  // The API bounds it to 1..86400 s; anything else falls back to kube-proxy's default.
  const int32_t t = info.session_affinity_timeout_seconds;
  return t > 0 && t <= 86400 ? static_cast<uint32_t>(t) : 10800u;
}

std::string NftValue::ToString() const {
  if (!is_verdict) {
    std::string hex;
    char b[4];
    for (unsigned char c : data) {
      std::snprintf(b, sizeof(b), "%02x", c);
      hex += b;
    }
    return hex;
  }
  switch (verdict) {
    case NF_DROP:
      return "drop";
    case NF_ACCEPT:
      return "accept";
    case NFT_JUMP:
      return "jump " + chain;
    case NFT_GOTO:
      return "goto " + chain;
    default:
      return "verdict " + std::to_string(verdict);
  }
}

std::string NftServiceKey(const IpAddress& ip, Protocol protocol, int port) {
  return Addr(ip) + Proto(protocol) + Port(port);
}
std::string NftNodePortKey(Protocol protocol, int port) { return Proto(protocol) + Port(port); }
std::string NftU32(uint32_t host_order) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &host_order, 4);
  return s;
}
std::string NftEndpointData(const IpAddress& ip, int port) { return Addr(ip) + Port(port); }

std::vector<NftElement> ServicePortElements(const ServicePortState& port, IpFamily family,
                                            uint32_t id,
                                            const std::vector<IpAddress>& node_addresses) {
  std::vector<NftElement> out;
  const ServicePortInfo& info = port.info;
  const auto& cluster_ip = info.ClusterIp(family);
  if (!cluster_ip) return out;  // single-stack service of the other family
  const EndpointSelection& sel = port.For(family);

  const std::vector<IpAddress> external_ips = OfFamily(info.external_ips, family);
  const std::vector<IpAddress> lb_ips = OfFamily(info.load_balancer_ips, family);
  const bool externally_accessible =
      info.node_port != 0 || !external_ips.empty() || !lb_ips.empty();
  const bool external_local =
      externally_accessible && info.external_policy == TrafficPolicy::kLocal;
  const bool internal_local = info.InternalPolicyLocal();
  const bool uses_cluster_endpoints = !internal_local || externally_accessible;

  // As in the iptables mode: an externally reachable port needs its Cluster set even when
  // core computed none (internalTrafficPolicy Local), for the pod and host short-circuit.
  const EndpointList* cluster = &sel.cluster();
  EndpointList fallback;
  if (cluster->empty() && uses_cluster_endpoints && !info.UsesClusterEndpoints()) {
    fallback = sel.all().Filter([](const EndpointInfo& ep) { return ep.ready; });
    if (fallback.empty()) {
      fallback =
          sel.all().Filter([](const EndpointInfo& ep) { return ep.serving && ep.terminating; });
    }
    cluster = &fallback;
  }
  const bool has_endpoints = sel.has_any_endpoints();
  const bool has_internal = has_endpoints && (!internal_local || !sel.local().empty());
  const bool has_external = has_endpoints && (!external_local || !sel.local().empty());

  out.reserve(8 + 3 * sel.all().size());
  std::vector<IpAddress> hairpin;  // sorted and deduplicated below
  auto endpoint_set = [&](uint32_t set_id, const EndpointList& eps) {
    if (eps.empty()) return;
    const auto n = static_cast<uint32_t>(std::min<size_t>(eps.size(), nft::kMaxEndpointsPerSet));
    const nft::EndpointChain& chain = nft::EndpointChainFor(n, (set_id & 1) != 0);
    out.push_back({nft::kEndpointSets, NftU32(set_id), NftValue{NftU32(chain.code), false, 0, ""}});
    for (uint32_t slot = 0; slot < chain.slots; ++slot) {
      const EndpointInfo& ep = *eps[slot % n];
      out.push_back({chain.map, NftU32(set_id) + NftU32(slot),
                     NftValue{NftEndpointData(ep.ip, ep.port), false, 0, ""}});
    }
    for (uint32_t i = 0; i < n; ++i) {
      // Only a pod on this node can reach itself through this node's DNAT: another node's pod
      // is DNATed by its own node's proxy (external traffic policy Cluster masquerades anyway).
      // kube-proxy's IPVS mode keeps KUBE-LOOP-BACK to local endpoints for the same reason; at
      // 10 000 x 10 this set held 100 000 of the 230 000 elements of a cold load.
      if (eps[i]->is_local) hairpin.push_back(eps[i]->ip);
      // The endpoints a remembered ClientIP affinity may still lead to, per endpoint set.
      if (info.session_affinity_client_ip) {
        out.push_back({nft::kAffinityEndpoints,
                       NftU32(set_id) + NftEndpointData(eps[i]->ip, eps[i]->port), NftValue{}});
      }
    }
  };
  if (uses_cluster_endpoints) endpoint_set(id, *cluster);
  if (internal_local || external_local) endpoint_set(id | 1, sel.local());

  const NftValue filter_verdict = has_endpoints ? Drop() : Goto(nft::kRejectChain);
  const std::string cip_key = NftServiceKey(*cluster_ip, info.protocol, info.port);
  auto id_with = [&](uint32_t policy) { return NftValue{NftU32(id | policy), false, 0, ""}; };
  if (has_internal) {
    out.push_back(
        {nft::kServiceIds, cip_key,
         id_with(internal_local ? nft::kPolicyInternalLocal : nft::kPolicyInternalCluster)});
  } else {
    out.push_back({nft::kNoEndpointServices, cip_key, filter_verdict});
  }
  const uint32_t external_policy =
      external_local ? nft::kPolicyExternalLocal : nft::kPolicyExternalCluster;
  std::vector<IpAddress> external = external_ips;
  external.insert(external.end(), lb_ips.begin(), lb_ips.end());
  // loadBalancerSourceRanges restrict the LB IPs (not the cluster IP, external IPs or NodePort).
  // Ranges given only for the other family still restrict this one: allow nobody rather than
  // everybody, as the iptables mode.
  if (!info.load_balancer_source_ranges.empty()) {
    const std::vector<Cidr> ranges = OfFamily(info.load_balancer_source_ranges, family);
    std::optional<IpAddress> node_ip;
    for (const auto& a : node_addresses) {
      if (a.family() == family) {
        node_ip = a;
        break;
      }
    }
    bool allow_node = false;
    for (const auto& r : ranges) allow_node = allow_node || (node_ip && r.Contains(*node_ip));
    for (const auto& lb : lb_ips) {
      const std::string key = NftServiceKey(lb, info.protocol, info.port);
      out.push_back({nft::kFirewallIps, key, NftValue{}});
      for (const auto& r : ranges) {
        out.push_back(
            {nft::kFirewallAllow, key + Addr(r.address()) + key + Addr(RangeEnd(r)), NftValue{}});
      }
      // A VIP often sits on a local interface, so the node's own requests arrive with the VIP
      // as source; let them through when the node itself is allowed.
      if (allow_node) {
        for (const auto& src : lb_ips) {
          out.push_back({nft::kFirewallAllow, key + Addr(src) + key + Addr(src), NftValue{}});
        }
      }
    }
  }
  std::sort(external.begin(), external.end());
  external.erase(std::unique(external.begin(), external.end()), external.end());
  for (const auto& ip : external) {
    const std::string key = NftServiceKey(ip, info.protocol, info.port);
    if (key == cip_key) continue;  // an external IP equal to the cluster IP: the latter wins
    if (has_endpoints) {
      out.push_back({nft::kServiceIds, key, id_with(external_policy)});
    }
    if (!has_external) out.push_back({nft::kNoEndpointServices, key, filter_verdict});
  }
  if (info.node_port != 0) {
    const std::string key = NftNodePortKey(info.protocol, info.node_port);
    if (has_endpoints) {
      out.push_back({nft::kNodePortIds, key, id_with(external_policy)});
    }
    if (!has_external) out.push_back({nft::kNoEndpointNodePorts, key, filter_verdict});
  }
  std::sort(hairpin.begin(), hairpin.end());
  hairpin.erase(std::unique(hairpin.begin(), hairpin.end()), hairpin.end());
  for (const auto& ip : hairpin) out.push_back({nft::kHairpin, Addr(ip) + Addr(ip), NftValue{}});
  // Affinity is recorded for connections the port dispatched, found through its ids.
  const bool dispatches = std::any_of(out.begin(), out.end(), [](const NftElement& e) {
    return e.set == nft::kServiceIds || e.set == nft::kNodePortIds;
  });
  if (info.session_affinity_client_ip && dispatches) {
    out.push_back(
        {nft::kAffinityTimeouts, NftU32(id), Goto(NftAffinityChain(AffinityTimeout(info)))});
  }
  return out;
}

void ServicePortIdElementCounts(const ServicePortState& port, IpFamily family,
                                const std::function<void(std::string_view set, size_t n)>& add) {
  // Mirrors ServicePortElements branch for branch (nft_batch_test checks that the two agree).
  const ServicePortInfo& info = port.info;
  const auto& cluster_ip = info.ClusterIp(family);
  if (!cluster_ip) return;
  const EndpointSelection& sel = port.For(family);
  bool external = false;                 // an external or load-balancer address of this family
  std::vector<IpAddress> external_keys;  // those whose dispatch key is not the cluster IP's
  for (const auto* ips : {&info.external_ips, &info.load_balancer_ips}) {
    for (const auto& ip : *ips) {
      if (ip.family() != family) continue;
      external = true;
      if (ip != *cluster_ip) external_keys.push_back(ip);
    }
  }
  std::sort(external_keys.begin(), external_keys.end());
  external_keys.erase(std::unique(external_keys.begin(), external_keys.end()), external_keys.end());
  const bool externally_accessible = info.node_port != 0 || external;
  const bool external_local =
      externally_accessible && info.external_policy == TrafficPolicy::kLocal;
  const bool internal_local = info.InternalPolicyLocal();
  const bool uses_cluster_endpoints = !internal_local || externally_accessible;

  size_t cluster = sel.cluster().size();
  if (cluster == 0 && uses_cluster_endpoints && !info.UsesClusterEndpoints()) {
    size_t ready = 0, serving_terminating = 0;
    for (const auto& ep : sel.all()) {
      ready += ep->ready ? 1 : 0;
      serving_terminating += ep->serving && ep->terminating ? 1 : 0;
    }
    cluster = ready != 0 ? ready : serving_terminating;
  }
  auto endpoint_set = [&](size_t eps, bool local) {
    if (eps == 0) return;
    const auto n = static_cast<uint32_t>(std::min<size_t>(eps, nft::kMaxEndpointsPerSet));
    const nft::EndpointChain& chain = nft::EndpointChainFor(n, local);
    add(nft::kEndpointSets, 1);
    add(chain.map, chain.slots);
    if (info.session_affinity_client_ip) add(nft::kAffinityEndpoints, n);
  };
  if (uses_cluster_endpoints) endpoint_set(cluster, false);
  if (internal_local || external_local) endpoint_set(sel.local().size(), true);

  const bool has_endpoints = sel.has_any_endpoints();
  const bool has_internal = has_endpoints && (!internal_local || !sel.local().empty());
  const size_t ids = (has_internal ? 1 : 0) + (has_endpoints ? external_keys.size() : 0);
  if (ids != 0) add(nft::kServiceIds, ids);
  const bool node_port_id = has_endpoints && info.node_port != 0;
  if (node_port_id) add(nft::kNodePortIds, 1);
  if (info.session_affinity_client_ip && (ids != 0 || node_port_id)) {
    add(nft::kAffinityTimeouts, 1);
  }
}

std::vector<NftElement> NodeElements(IpFamily family, const NftOptions& options,
                                     const std::vector<IpAddress>& local_addresses) {
  std::vector<NftElement> out = {
      {nft::kPolicies, NftU32(nft::kPolicyInternalCluster), Goto(nft::kInternalCluster)},
      {nft::kPolicies, NftU32(nft::kPolicyInternalLocal), Goto(nft::kInternalLocal)},
      {nft::kPolicies, NftU32(nft::kPolicyExternalCluster), Goto(nft::kExternalCluster)},
      {nft::kPolicies, NftU32(nft::kPolicyExternalLocal), Goto(nft::kExternalLocal)},
  };
  for (const auto& chain : nft::EndpointChains()) {
    out.push_back({nft::kEndpointChains, NftU32(chain.code), Goto(chain.name)});
  }
  if (!NftNodePortsRestricted(family, options)) return out;
  std::set<IpAddress> ips;
  for (const auto& ip : local_addresses) {
    if (ip.family() != family || ip.IsLoopback()) continue;
    for (const auto& c : options.node_port_addresses) {
      if (c.Contains(ip)) ips.insert(ip);
    }
  }
  for (const auto& ip : ips) out.push_back({nft::kNodePortIps, Addr(ip), NftValue{}});
  return out;
}

}  // namespace kpx
