#pragma once

#include <string>
#include <vector>

#include "proxier/ipvs/ipvs_options.h"
#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

// The few iptables rules kube-proxy's IPVS mode needs next to IPVS itself: masquerade marks for
// traffic that must be SNATed (cluster IPs with --masquerade-all or from outside --cluster-cidr,
// external and load-balancer IPs unless ETP=Local, NodePorts), hairpin masquerade via
// KUBE-LOOP-BACK, and the load-balancer source-range filter. Every per-service decision lives in
// the ipsets, so the rules never change with services: rendered once, restored on full syncs.
inline constexpr char kIpvsNodePortChain[] = "KUBE-NODE-PORT";
inline constexpr char kIpvsLoadBalancerChain[] = "KUBE-LOAD-BALANCER";
inline constexpr char kIpvsSourceRangesChain[] = "KUBE-SOURCE-RANGES-FIREWALL";

// iptables-restore text (nat and filter sections) for `family`, meant for --noflush.
std::string RenderIpvsIptables(const IpvsOptions& options, IpFamily family);

// The jumps from built-in chains into kpx's chains.
std::vector<JumpRule> IpvsJumpRules();

// kpx's chains in `table` ("nat" or "filter"), for cleanup.
std::vector<std::string> IpvsChains(const std::string& table);

}  // namespace kpx
