#pragma once

#include <string>
#include <string_view>

#include "proxier/core/endpoint_info.h"
#include "proxier/core/service_port_name.h"
#include "proxier/netfilter/kube_chains.h"

namespace kpx {

// Per-service chain names kpx owns: kube-proxy's, hashed the same way, so kpx takes over a node
// from kube-proxy (and back) without orphaning or duplicating chains.
inline constexpr std::string_view kSvcPrefix = "KUBE-SVC-";
inline constexpr std::string_view kSvlPrefix = "KUBE-SVL-";
inline constexpr std::string_view kExtPrefix = "KUBE-EXT-";
inline constexpr std::string_view kFwPrefix = "KUBE-FW-";
inline constexpr std::string_view kSepPrefix = "KUBE-SEP-";
// kube-proxy's canary: an empty chain in the mangle table of each family. Nothing else creates
// or flushes mangle chains of this name, so its absence means someone flushed the tables.
inline constexpr std::string_view kCanaryChain = "KUBE-PROXY-CANARY";
// kpx's own addition: the per-prefix dispatch chains of DispatchMode::kPrefixTree.
inline constexpr std::string_view kDstPrefix = "KUBE-DST-";

// First 16 characters of base32(sha256(text)): short enough that every name stays <= 28 chars.
std::string HashedSuffix(std::string_view text);

std::string ServiceChain(const ServicePortName& name);       // KUBE-SVC-: Cluster policy
std::string ServiceLocalChain(const ServicePortName& name);  // KUBE-SVL-: Local policy
std::string ExternalChain(const ServicePortName& name);      // KUBE-EXT-: external entry
std::string FirewallChain(const ServicePortName& name);      // KUBE-FW-: source ranges
std::string EndpointChain(const ServicePortName& name, const EndpointInfo& endpoint);

// True for the per-service and per-endpoint chains (and dispatch chains) that come and go with
// services; those are what stale-chain removal may delete.
bool IsServiceChainName(std::string_view chain);
// True for every chain kpx may create in `table` ("nat" or "filter"), per-service or top-level.
bool IsKpxChainName(std::string_view table, std::string_view chain);

}  // namespace kpx
