#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxier/iptables/iptables_ruleset.h"
#include "proxier/iptables/prefix_dispatch.h"

namespace kpx {

// The SHA-256-based chain names of one service port, computed once and kept across syncs.
struct ServiceChainNames {
  std::string svc, svl, ext, fw;
};

// A nat chain a service port owns. Its rules are rendered as one text, not a string per rule,
// and the text is kept only until it is written: what a later sync needs is whether the chain
// changed, which its digest tells. At 10 000 x 10 the texts were 40 MiB held between syncs.
struct OwnedChain {
  std::string name;
  // Complete "-A CHAIN ..." lines, each ending in '\n', in the rendering sync's ChainTexts;
  // empty once written.
  std::string_view text;
  uint64_t digest = 0;  // of the text (Digest)
  size_t rules = 0;

  // A 64-bit hash, not SHA-256: it only tells a chain's new rendering from its previous one
  // (one comparison per re-rendered chain; a false "same" has odds of 2^-64), and a full sync
  // digests 32 MB of chains.
  static uint64_t Digest(std::string_view text);
  bool operator==(const OwnedChain& o) const {
    return name == o.name && digest == o.digest && rules == o.rules;
  }
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
