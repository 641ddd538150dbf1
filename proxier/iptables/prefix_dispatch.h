#pragma once

#include <string>
#include <vector>

#include "base/ip_address.h"
#include "proxier/iptables/iptables_ruleset.h"

namespace kpx {

// One dispatch rule of KUBE-SERVICES: its destination address and its argument text.
struct DispatchEntry {
  IpAddress dst;
  std::string args;  // "-m comment ... -d <dst> --dport ... -j KUBE-SVC-..."
  bool operator==(const DispatchEntry&) const = default;
};

// Splits KUBE-SERVICES' dispatch rules into a path-compressed binary tree of per-prefix chains
// (KUBE-DST-<hash>), so the first packet of a connection is matched against O(log n) prefix rules
// plus one small leaf instead of all n service rules.
//
// Why a prefix tree and not an ipset: it needs nothing but the "-d" match every backend has
// (legacy, nft, libiptc), no second kernel object to keep in sync with the rules (an ipset would
// need its own seam, its own atomic swap and would not be covered by iptables-restore's
// all-or-nothing commit), and the tests' packet tracer understands it without modelling sets.
// Why binary with path compression: each level costs two "-d" comparisons, and collapsing
// single-child levels keeps the depth near log2(n / leaf_size) however the addresses are spread.
// Service IPs with many ports (same address) stay in one leaf, which is then linear in ports.
//
// Deterministic: the output depends only on the set of entries; entries with the same address
// keep their input order.
class PrefixDispatch {
 public:
  PrefixDispatch(IpFamily family, size_t leaf_size);
  // Returns the chains to write: first `root` (rules to append to it), then the KUBE-DST chains.
  // Rules are complete "-A CHAIN ..." lines.
  std::vector<RenderedChain> Build(const std::string& root, std::vector<DispatchEntry> entries);

 private:
  void Fill(size_t chain_index, size_t lo, size_t hi);

  IpFamily family_;
  size_t leaf_size_;
  std::vector<DispatchEntry> entries_;
  std::vector<RenderedChain> chains_;
};

}  // namespace kpx
