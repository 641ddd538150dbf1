#include "proxier/iptables/prefix_dispatch.h"

#include <algorithm>

#include "base/cidr.h"
#include "proxier/iptables/chain_names.h"

namespace kpx {

namespace {

bool Bit(const IpAddress& ip, int i) { return (ip.bytes()[i / 8] >> (7 - i % 8)) & 1; }

int CommonPrefix(const IpAddress& a, const IpAddress& b, int max_bits) {
  int n = 0;
  while (n < max_bits && Bit(a, n) == Bit(b, n)) ++n;
  return n;
}

}  // namespace

PrefixDispatch::PrefixDispatch(IpFamily family, size_t leaf_size)
    : family_(family), leaf_size_(std::max<size_t>(leaf_size, 2)) {}

std::vector<RenderedChain> PrefixDispatch::Build(const std::string& root,
                                                 std::vector<DispatchEntry> entries) {
  entries_ = std::move(entries);
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const DispatchEntry& a, const DispatchEntry& b) { return a.dst < b.dst; });
  chains_.clear();
  chains_.push_back(RenderedChain{root, {}, std::nullopt});
  Fill(0, 0, entries_.size());
  return std::move(chains_);
}

void PrefixDispatch::Fill(size_t chain_index, size_t lo, size_t hi) {
  const int max_bits = family_ == IpFamily::kIPv4 ? 32 : 128;
  auto emit_leaf = [&](size_t a, size_t b) {
    for (size_t i = a; i < b; ++i) {
      chains_[chain_index].rules.push_back("-A " + chains_[chain_index].name + " " +
                                           entries_[i].args);
    }
  };
  if (hi - lo <= leaf_size_) return emit_leaf(lo, hi);
  const int split = CommonPrefix(entries_[lo].dst, entries_[hi - 1].dst, max_bits);
  if (split == max_bits) return emit_leaf(lo, hi);  // one address, many ports
  // Sorted, so the entries with a 0 at bit `split` come first.
  size_t mid = lo;
  while (mid < hi && !Bit(entries_[mid].dst, split)) ++mid;
  for (auto [a, b] : {std::pair{lo, mid}, std::pair{mid, hi}}) {
    if (b - a == 1) {
      emit_leaf(a, b);
      continue;
    }
    // Path compression: the child chain covers the longest prefix its entries share.
    const int len = CommonPrefix(entries_[a].dst, entries_[b - 1].dst, max_bits);
    const Cidr prefix = *Cidr::Parse(entries_[a].dst.ToString() + "/" + std::to_string(len));
    const std::string name = std::string(kDstPrefix) + HashedSuffix(prefix.ToString());
    chains_[chain_index].rules.push_back("-A " + chains_[chain_index].name + " -d " +
                                         prefix.ToString() + " -j " + name);
    const size_t child = chains_.size();
    chains_.push_back(RenderedChain{name, {}, std::nullopt});
    Fill(child, a, b);
  }
}

}  // namespace kpx
