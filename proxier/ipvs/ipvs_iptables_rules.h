#pragma once

#include <string>
#include <vector>

#include "proxier/ipvs/ipvs_ipsets.h"
#include "proxier/ipvs/ipvs_options.h"
#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

// The few iptables rules kube-proxy's IPVS mode needs next to IPVS itself: masquerade marks for
// traffic that must be SNATed (cluster IPs with --masquerade-all or from outside --cluster-cidr,
// external and load-balancer IPs unless ETP=Local, NodePorts), hairpin masquerade via
// KUBE-LOOP-BACK, and the load-balancer source-range filter. Every per-service decision lives in
// the ipsets, so the rules change with services only where a set turns empty or non-empty.
inline constexpr char kIpvsNodePortChain[] = "KUBE-NODE-PORT";
inline constexpr char kIpvsLoadBalancerChain[] = "KUBE-LOAD-BALANCER";
inline constexpr char kIpvsSourceRangesChain[] = "KUBE-SOURCE-RANGES-FIREWALL";

// iptables-restore text (nat and filter sections) for `family`, meant for --noflush.
// `node_pod_cidrs` (the Node object's podCIDRs) feed --detect-local-mode=NodeCIDR. A rule
// matching a set `present` says is empty is left out, as kube-proxy leaves it out: it could not
// match, yet the first packet of every connection would pay its lookup. So the rules change
// when a set turns empty or non-empty, and only then.
std::string RenderIpvsIptables(const IpvsOptions& options, IpFamily family,
                               const std::vector<Cidr>& node_pod_cidrs = {},
                               const IpsetPresence& present = IpsetPresence().set());

// The jumps from built-in chains into kpx's chains.
std::vector<JumpRule> IpvsJumpRules();

// kpx's chains in `table` ("nat" or "filter"), for cleanup.
std::vector<std::string> IpvsChains(const std::string& table);

}  // namespace kpx
