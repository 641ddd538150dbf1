#include "proxier/ipvs/ipvs_ipsets.h"

#include <iterator>
#include <sstream>
#include <string_view>

namespace kpx {
namespace {

// `comment` documents the set's purpose (kube-proxy's wording); ipset's own "comment" create
// option means per-entry comments, so it is not sent to the kernel.
struct SetDef {
  const char* name;
  const char* type;
  const char* comment;
};

// kube-proxy's definitions (types and comments).
constexpr SetDef kSets[] = {
    {kClusterIpSet, "hash:ip,port", "Kubernetes service cluster ip + port for masquerade purpose"},
    {kLoopBackSet, "hash:ip,port,ip",
     "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"},
    {kExternalIpSet, "hash:ip,port",
     "Kubernetes service external ip + port for masquerade and filter purpose"},
    {kExternalIpLocalSet, "hash:ip,port",
     "Kubernetes service external ip + port with externalTrafficPolicy=local"},
    {kLoadBalancerSet, "hash:ip,port",
     "Kubernetes service lb portal ip + port for masquerade purpose"},
    {kLoadBalancerLocalSet, "hash:ip,port",
     "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"},
    {kLoadBalancerFwSet, "hash:ip,port",
     "Kubernetes service load balancer ip + port for load balancer with sourceRange"},
    {kLoadBalancerSourceCidrSet, "hash:ip,port,net",
     "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"},
    {kNodePortTcpSet, "bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose"},
    {kNodePortLocalTcpSet, "bitmap:port",
     "Kubernetes nodeport TCP port with externalTrafficPolicy=local"},
    {kNodePortUdpSet, "bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose"},
    {kNodePortLocalUdpSet, "bitmap:port",
     "Kubernetes nodeport UDP port with externalTrafficPolicy=local"},
    {kNodePortSctpSet, "hash:ip,port", "Kubernetes nodeport SCTP port for masquerade purpose"},
    {kNodePortLocalSctpSet, "hash:ip,port",
     "Kubernetes nodeport SCTP port with externalTrafficPolicy=local"},
};

bool IsBitmap(const SetDef& d) { return std::string(d.type) == "bitmap:port"; }

std::string Proto(Protocol p) { return std::string(ProtocolLowerName(p)); }

std::string IpPort(const IpAddress& ip, Protocol p, int port) {
  return ip.ToString() + "," + Proto(p) + ":" + std::to_string(port);
}

// ipset prints a full-length prefix without "/32" or "/128".
std::string NetText(const Cidr& c) {
  const int full = c.family() == IpFamily::kIPv4 ? 32 : 128;
  return c.prefix_length() == full ? c.address().ToString() : c.ToString();
}

}  // namespace

std::string IpsetName(const std::string& base, IpFamily family) {
  if (family == IpFamily::kIPv4) return base;
  for (const SetDef& d : kSets) {
    if (base == d.name && IsBitmap(d)) return base;
  }
  // ipset names are at most 31 characters; the longest IPv6 name loses its last letter.
  return ("KUBE-6-" + base.substr(5)).substr(0, 31);
}

std::vector<std::string> AllIpsetNames() {
  std::vector<std::string> out;
  for (IpFamily f : kIpFamilies) {
    for (const SetDef& d : kSets) {
      if (f == IpFamily::kIPv6 && IsBitmap(d)) continue;
      out.push_back(IpsetName(d.name, f));
    }
  }
  return out;
}

static_assert(2 * std::size(kSets) <= kIpsetEntrySetCodes);

uint8_t IpsetEntrySet(const char* base, IpFamily family) {
  for (size_t i = 0; i < std::size(kSets); ++i) {
    if (std::string_view(kSets[i].name) != base) continue;
    const bool v6 = family == IpFamily::kIPv6 && !IsBitmap(kSets[i]);
    return static_cast<uint8_t>(i * 2 + (v6 ? 1 : 0));
  }
  return 0;
}

bool IpsetEntrySetIsBitmap(uint8_t set) {
  return set / 2 < std::size(kSets) && IsBitmap(kSets[set / 2]);
}

IpFamily IpsetEntrySetFamily(uint8_t set) {
  return set % 2 == 1 ? IpFamily::kIPv6 : IpFamily::kIPv4;
}

std::string IpsetEntry::SetName() const {
  if (set / 2 >= std::size(kSets)) return "?";
  return IpsetName(kSets[set / 2].name, IpsetEntrySetFamily(set));
}

std::string IpsetEntry::Member() const {
  if (set / 2 >= std::size(kSets)) return "?";
  const std::string_view type = kSets[set / 2].type;
  if (type == "bitmap:port") return std::to_string(port);
  std::string out = IpPort(ip, protocol, port);
  if (type == "hash:ip,port,ip") {
    out += "," + ip.ToString();
  } else if (type == "hash:ip,port,net") {
    out += "," + NetText(net);
  }
  return out;
}

std::vector<IpsetEntry> ServicePortIpsetEntries(const ServicePortState& sp, IpFamily family,
                                                const std::vector<IpAddress>& node_port_ips) {
  std::vector<IpsetEntry> out;
  const ServicePortInfo& info = sp.info;
  const auto& cluster_ip = info.ClusterIp(family);
  if (!cluster_ip) return out;
  const Protocol p = info.protocol;
  auto add = [&](const char* base, const IpAddress& ip, uint16_t port, const Cidr& net = {}) {
    out.push_back({IpsetEntrySet(base, family), p, port, ip, net});
  };
  const auto port = static_cast<uint16_t>(info.port);
  add(kClusterIpSet, *cluster_ip, port);
  for (const auto& ep : sp.For(family).all()) {
    if (!ep->is_local) continue;
    add(kLoopBackSet, ep->ip, static_cast<uint16_t>(ep->port));
  }
  const bool local = info.ExternalPolicyLocal();
  for (const IpAddress& ip : info.external_ips) {
    if (ip.family() != family) continue;
    add(kExternalIpSet, ip, port);
    if (local) add(kExternalIpLocalSet, ip, port);
  }
  for (const IpAddress& ip : info.load_balancer_ips) {
    if (ip.family() != family) continue;
    add(kLoadBalancerSet, ip, port);
    if (local) add(kLoadBalancerLocalSet, ip, port);
    for (const Cidr& range : info.load_balancer_source_ranges) {
      if (range.family() != family) continue;
      add(kLoadBalancerSourceCidrSet, ip, port, range);
    }
    // Ranges only in the other family still restrict this one: behind the firewall with no
    // source allowed, nobody of this family gets in (kube-proxy would leave it open).
    if (!info.load_balancer_source_ranges.empty()) add(kLoadBalancerFwSet, ip, port);
  }
  if (info.node_port != 0 && p == Protocol::kSCTP) {
    // The kernel's bitmap:port matches only TCP and UDP: SCTP NodePorts are address . port.
    for (const IpAddress& ip : node_port_ips) {
      if (ip.family() != family) continue;
      add(kNodePortSctpSet, ip, static_cast<uint16_t>(info.node_port));
      if (local) add(kNodePortLocalSctpSet, ip, static_cast<uint16_t>(info.node_port));
    }
  } else if (info.node_port != 0) {
    // A bitmap entry is a port alone: the same entry whichever family or protocol asks.
    const bool tcp = p == Protocol::kTCP;
    const auto node_port = static_cast<uint16_t>(info.node_port);
    auto add_port = [&](const char* base) {
      out.push_back({IpsetEntrySet(base, family), Protocol::kTCP, node_port, {}, {}});
    };
    add_port(tcp ? kNodePortTcpSet : kNodePortUdpSet);
    if (local) add_port(tcp ? kNodePortLocalTcpSet : kNodePortLocalUdpSet);
  }
  return out;
}

IpsetMap RenderIpsets(const DesiredState& state, IpFamily family,
                      const std::vector<IpAddress>& node_port_ips) {
  IpsetMap out;
  for (const SetDef& d : kSets) {
    IpsetContent c;
    c.type = d.type;
    if (IsBitmap(d)) c.options = " range 0-65535";
    out[IpsetName(d.name, family)] = c;
  }
  for (const auto& [name, sp] : state.services) {
    for (const IpsetEntry& e : ServicePortIpsetEntries(*sp, family, node_port_ips)) {
      out[e.SetName()].entries.insert(e.Member());
    }
  }
  // ipset's default limit (65536) is too small for a large cluster's KUBE-LOOP-BACK, one entry
  // per local endpoint: size hash sets at creation with room to double. (A set that already
  // exists keeps the limit it was created with.)
  for (const SetDef& d : kSets) {
    if (IsBitmap(d)) continue;
    IpsetContent& c = out[IpsetName(d.name, family)];
    size_t maxelem = 65536;
    while (maxelem < 2 * c.entries.size()) maxelem *= 2;
    c.options = std::string(" family ") + (family == IpFamily::kIPv4 ? "inet" : "inet6") +
                " hashsize 1024 maxelem " + std::to_string(maxelem);
  }
  return out;
}

IpsetMap ParseIpsetSave(const std::string& text) {
  const std::vector<std::string> names = AllIpsetNames();
  const std::set<std::string> ours(names.begin(), names.end());
  IpsetMap out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string cmd, name, arg;
    words >> cmd >> name >> arg;
    if (!ours.count(name)) continue;
    if (cmd == "create") {
      out[name].type = arg;
    } else if (cmd == "add") {
      out[name].entries.insert(arg);
    }
  }
  return out;
}

std::string IpsetRestoreText(const IpsetMap& want, const IpsetMap& have) {
  std::string creates, changes;
  for (const auto& [name, set] : want) {
    auto h = have.find(name);
    if (h == have.end() || h->second.type != set.type) {
      creates += "create " + name + " " + set.type + set.options + "\n";
    }
    static const std::set<std::string> kEmpty;
    const std::set<std::string>& old = h == have.end() ? kEmpty : h->second.entries;
    for (const auto& e : old) {
      if (!set.entries.count(e)) changes += "del " + name + " " + e + "\n";
    }
    for (const auto& e : set.entries) {
      if (!old.count(e)) changes += "add " + name + " " + e + "\n";
    }
  }
  return creates + changes;
}

}  // namespace kpx
