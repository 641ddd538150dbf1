#include "proxier/ipvs/ipvs_iptables_rules.h"

#include <cstdio>

#include "proxier/ipvs/ipvs_ipsets.h"
#include "proxier/netfilter/kube_chains.h"

namespace kpx {
namespace {

std::string S(std::string_view v) { return std::string(v); }

std::string Mark(int bit) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%x", 1u << bit);
  return buf;
}

std::string MatchSet(const char* base, IpFamily f, const char* dirs) {
  return "-m set --match-set " + IpsetName(base, f) + " " + dirs;
}

std::string Comment(const std::string& text) { return "-m comment --comment \"" + text + "\""; }

}  // namespace

std::string RenderIpvsIptables(const IpvsOptions& options, IpFamily f,
                               const std::vector<Cidr>& node_pod_cidrs,
                               const IpsetPresence& present) {
  const std::string mark = Mark(options.masquerade_bit);
  const std::string svc = S(kServicesChain);
  const std::string masq = S(kMarkMasqChain);
  auto has = [&](const char* set) { return present.test(IpsetEntrySet(set, f)); };
  std::string t = "*nat\n";
  for (const std::string& chain : IpvsChains("nat")) t += ":" + chain + " - [0:0]\n";

  // Hairpin: a pod reaching itself through a service must see the node as the source.
  if (has(kLoopBackSet)) {
    t += "-A " + S(kPostroutingChain) + " " +
         Comment("Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose") + " " +
         MatchSet(kLoopBackSet, f, "dst,dst,src") + " -j MASQUERADE\n";
  }
  t += "-A " + S(kPostroutingChain) + " -m mark ! --mark " + mark + "/" + mark + " -j RETURN\n";
  t += "-A " + S(kPostroutingChain) + " -j MARK --xor-mark " + mark + "\n";
  t += "-A " + S(kPostroutingChain) + " " + Comment("kubernetes service traffic requiring SNAT") +
       " -j MASQUERADE" + (options.masquerade_random_fully ? " --random-fully" : "") + "\n";
  t += "-A " + masq + " -j MARK --or-mark " + mark + "\n";

  if (has(kClusterIpSet)) {
    const std::string cluster = MatchSet(kClusterIpSet, f, "dst,dst");
    const std::string cluster_comment =
        Comment("Kubernetes service cluster ip + port for masquerade purpose");
    if (options.masquerade_all) {
      t += "-A " + svc + " " + cluster_comment + " " + cluster + " -j " + masq + "\n";
    } else if (const LocalTrafficDetector local =
                   LocalTrafficDetector::For(options.local_detect, f, options.cluster_cidrs,
                                             node_pod_cidrs, options.local_interface);
               local.implemented()) {
      // Off-cluster traffic to a cluster IP is masqueraded, as kube-proxy's IPVS proxier does.
      t += "-A " + svc + " " + cluster_comment + " " + cluster + " " + local.if_not_local + " -j " +
           masq + "\n";
    }
    // Service traffic needs nothing more from iptables: IPVS takes it in LOCAL_IN. Accepted
    // here, not last as kube-proxy does: cluster IPs are local addresses (on the dummy device),
    // so below they would pay the NodePort jump's route lookup and its set lookups on every new
    // connection, and be masqueraded when their port equals a NodePort (the iptables mode never
    // sends cluster IP traffic to its NodePort chain either).
    t += "-A " + svc + " " + cluster + " -j ACCEPT\n";
  }
  // External IPs: ETP=Local keeps the client address, everything else is masqueraded.
  if (has(kExternalIpLocalSet)) {
    t += "-A " + svc + " " + MatchSet(kExternalIpLocalSet, f, "dst,dst") + " -j ACCEPT\n";
  }
  if (has(kExternalIpSet)) {
    t += "-A " + svc + " " +
         Comment("Kubernetes service external ip + port for masquerade and filter purpose") + " " +
         MatchSet(kExternalIpSet, f, "dst,dst") + " -j " + masq + "\n";
  }
  if (has(kLoadBalancerSet)) {
    t += "-A " + svc + " " + Comment("Kubernetes service lb portal") + " " +
         MatchSet(kLoadBalancerSet, f, "dst,dst") + " -j " + kIpvsLoadBalancerChain + "\n";
    if (has(kLoadBalancerLocalSet)) {
      t += "-A " + std::string(kIpvsLoadBalancerChain) + " " +
           MatchSet(kLoadBalancerLocalSet, f, "dst,dst") + " -j RETURN\n";
    }
    t += "-A " + std::string(kIpvsLoadBalancerChain) + " -j " + masq + "\n";
  }
  // SCTP's sets are address . port (bitmap:port would never match an SCTP packet).
  struct NodePortRule {
    const char* proto;
    const char* set;
    const char* dirs;
    bool local;
  };
  const NodePortRule node_port_rules[] = {
      {"tcp", kNodePortLocalTcpSet, "dst", true},
      {"tcp", kNodePortTcpSet, "dst", false},
      {"udp", kNodePortLocalUdpSet, "dst", true},
      {"udp", kNodePortUdpSet, "dst", false},
      {"sctp", kNodePortLocalSctpSet, "dst,dst", true},
      {"sctp", kNodePortSctpSet, "dst,dst", false},
  };
  bool any_node_port = false;
  for (const NodePortRule& r : node_port_rules) {
    if (!has(r.set)) continue;
    any_node_port = true;
    t += "-A " + std::string(kIpvsNodePortChain) + " -p " + r.proto + " " +
         MatchSet(r.set, f, r.dirs) + " -j " + (r.local ? "RETURN" : masq) + "\n";
  }
  if (any_node_port) {
    t += "-A " + svc + " -m addrtype --dst-type LOCAL -j " + kIpvsNodePortChain + "\n";
  }
  t += "COMMIT\n";

  t += "*filter\n";
  for (const std::string& chain : IpvsChains("filter")) t += ":" + chain + " - [0:0]\n";
  t += "-A " + S(kForwardChain) + " " + Comment("kubernetes forwarding rules") +
       " -m mark --mark " + mark + "/" + mark + " -j ACCEPT\n";
  t += "-A " + S(kForwardChain) + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
  if (has(kLoadBalancerFwSet)) {
    t += "-A " + S(kProxyFirewallChain) + " " + MatchSet(kLoadBalancerFwSet, f, "dst,dst") +
         " -j " + kIpvsSourceRangesChain + "\n";
    if (has(kLoadBalancerSourceCidrSet)) {
      t += "-A " + std::string(kIpvsSourceRangesChain) + " " +
           MatchSet(kLoadBalancerSourceCidrSet, f, "dst,dst,src") + " -j RETURN\n";
    }
    t += "-A " + std::string(kIpvsSourceRangesChain) + " " +
         Comment("source-range not allowed by the load balancer") + " -j DROP\n";
  }
  t += "COMMIT\n";
  return t;
}

std::vector<JumpRule> IpvsJumpRules() {
  const std::vector<std::string> services = {"-m", "comment", "--comment",
                                             "kubernetes service portals"};
  const std::vector<std::string> newconn = {"-m", "conntrack", "--ctstate", "NEW"};
  return {
      {"nat", "PREROUTING", services, S(kServicesChain), true},
      {"nat", "OUTPUT", services, S(kServicesChain), true},
      {"nat",
       "POSTROUTING",
       {"-m", "comment", "--comment", "kubernetes postrouting rules"},
       S(kPostroutingChain),
       true},
      {"filter",
       "FORWARD",
       {"-m", "comment", "--comment", "kubernetes forwarding rules"},
       S(kForwardChain),
       true},
      {"filter", "INPUT", newconn, S(kProxyFirewallChain), true},
      {"filter", "FORWARD", newconn, S(kProxyFirewallChain), true},
      {"filter", "OUTPUT", newconn, S(kProxyFirewallChain), true},
  };
}

std::vector<std::string> IpvsChains(const std::string& table) {
  if (table == "nat") {
    return {S(kServicesChain), S(kPostroutingChain), S(kMarkMasqChain), kIpvsNodePortChain,
            kIpvsLoadBalancerChain};
  }
  return {S(kForwardChain), S(kProxyFirewallChain), kIpvsSourceRangesChain};
}

}  // namespace kpx
