#include "proxier/iptables/chain_texts.h"

namespace kpx {

std::string_view ChainTexts::Add(std::string_view chain, std::string_view text) {
  const std::string_view group = grouped_ ? chain.substr(0, kGroup) : std::string_view();
  auto it = groups_.find(group);
  if (it == groups_.end()) it = groups_.emplace(std::string(group), TextArena()).first;
  return it->second.Add(text);
}

void ChainTexts::ReleaseBefore(std::string_view chain) {
  if (!grouped_) return;  // one group: freed by Clear only
  // A group's key is a prefix of its names, at most kGroup long: every name in a group whose key
  // sorts before this chain's key sorts before this chain.
  groups_.erase(groups_.begin(), groups_.lower_bound(chain.substr(0, kGroup)));
}

void ChainTexts::Clear() {
  // Ungrouped (a partial sync's few texts), the one arena keeps its first block for the next.
  if (groups_.size() == 1 && groups_.begin()->first.empty()) {
    groups_.begin()->second.Clear();
    return;
  }
  groups_.clear();
}

size_t ChainTexts::bytes() const {
  size_t n = 0;
  for (const auto& [group, arena] : groups_) n += arena.bytes();
  return n;
}

}  // namespace kpx
