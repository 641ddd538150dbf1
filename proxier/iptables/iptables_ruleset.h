#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/protocol.h"
#include "proxier/core/service_port_name.h"

namespace kpx {

// One chain's rules as complete "-A CHAIN ..." restore lines (no newline).
struct RenderedChain {
  std::string name;
  std::vector<std::string> rules;
  // The service port whose chain this is; empty for the top-level and dispatch chains.
  std::optional<ServicePortName> owner;
  bool operator==(const RenderedChain&) const = default;
};

// The top-level chains service ports add rules to, in the order a full restore writes them
// within their table. Indexes ServiceFragment::shared.
enum class SharedChain : int {
  kFilterServices,          // filter KUBE-SERVICES: REJECT/DROP for ports without endpoints
  kFilterExternalServices,  // filter KUBE-EXTERNAL-SERVICES: the same for external addresses
  kFilterNodePorts,         // filter KUBE-NODEPORTS: health check node ports
  kFilterProxyFirewall,     // filter KUBE-PROXY-FIREWALL: loadBalancerSourceRanges drops
  kNatNodePorts,            // nat KUBE-NODEPORTS
  kCount,
};
inline constexpr int kSharedChainCount = static_cast<int>(SharedChain::kCount);

// A top-level chain of one table as a full restore writes it: the rules service ports add
// (`services`, or the KUBE-SERVICES dispatch when `dispatch`), then its own fixed rules.
struct TopLevelChain {
  std::string name;
  std::optional<SharedChain> services;
  bool dispatch = false;  // nat KUBE-SERVICES: the per-service dispatch rules come first
  std::vector<std::string> rules;
  bool operator==(const TopLevelChain&) const = default;
};

// Everything of one family's ruleset that does not belong to a service port, in declaration
// order per table. Depends on the options, the node and the host's addresses only.
struct TopLevelRules {
  std::vector<TopLevelChain> filter;
  std::vector<TopLevelChain> nat;
  bool operator==(const TopLevelRules&) const = default;
};

}  // namespace kpx
