#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxier/iptables/iptables_ruleset.h"
#include "proxier/iptables/prefix_dispatch.h"

namespace kpx {

// The SHA-256-based chain names of one service port, computed once and kept across syncs
// (hashing was a fifth of a full render at 10 000 services).
struct ServiceChainNames {
  std::string svc, svl, ext, fw;
  // KUBE-SEP- names by endpoint ("ip:port"); holds the endpoints of the last rendering only.
  std::unordered_map<std::string, std::string> sep;
};

// A nat chain a service port owns. Its rules are kept as one text, not a string per rule: at
// 10 000 x 10 that is 300 000 fewer allocations held between syncs.
struct OwnedChain {
  std::string name;
  std::string text;  // complete "-A CHAIN ..." lines, each ending in '\n'
  size_t rules = 0;
  bool operator==(const OwnedChain&) const = default;
};

// What one service port contributes to one family's ruleset: its lines in the shared top-level
// chains, its dispatch rules and the nat chains it owns. A pure function of the service port,
// the node, the options and the large-cluster mode, so it can be cached until the port changes.
struct ServiceFragment {
  // Its "-A" lines (each ending in '\n') in each shared chain, and how many.
  std::array<std::string, kSharedChainCount> shared;
  std::array<size_t, kSharedChainCount> shared_rules{};
  std::vector<DispatchEntry> dispatch;  // nat KUBE-SERVICES (or the prefix tree's leaves)
  std::vector<OwnedChain> chains;       // owned nat chains, in declaration order
  // Every endpoint of the family, whatever its condition: what kube-proxy counts to decide
  // whether the cluster is large.
  size_t endpoints = 0;

  size_t FilterRules() const;
  size_t NatRules() const;
  bool operator==(const ServiceFragment&) const = default;
};

}  // namespace kpx
