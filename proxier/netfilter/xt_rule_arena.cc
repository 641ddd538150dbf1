#include "proxier/netfilter/xt_rule_arena.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace kpx {

unsigned char* XtRuleArena::Grow(unsigned char* region, size_t used, size_t more) {
  if (!blocks_.empty()) {
    const PageBlock& b = blocks_.back();
    unsigned char* tail = b.data() + used_;
    if (region != nullptr && region + used == tail && b.size() - used_ >= more) {
      used_ += more;
      return region;
    }
  }
  const size_t need = used + more;
  if (blocks_.empty() || blocks_.back().size() - used_ < need) {
    // What a section leaves unused is at most the last block's rest.
    const size_t grown = PageBlock::GrowingSize(blocks_.size(), kFirstBlock, kMaxBlock);
    blocks_.push_back(supply_.Take(std::max(need, grown), grown == kMaxBlock ? kMaxBlock : 0));
    used_ = 0;
  }
  unsigned char* at = blocks_.back().data() + used_;
  if (used > 0) std::memcpy(at, region, used);
  used_ += need;
  return at;
}

size_t XtRuleArena::BlockOf(const unsigned char* at, size_t hint) const {
  const std::less<const unsigned char*> before;
  auto holds = [&](size_t k) {
    const unsigned char* b = blocks_[k].data();
    return b != nullptr && !before(at, b) && before(at, b + blocks_[k].size());
  };
  if (hint < blocks_.size() && holds(hint)) return hint;
  for (size_t k = 0; k < blocks_.size(); ++k) {
    if (holds(k)) return k;
  }
  return kNoBlock;
}

void XtRuleArena::Release(size_t block) {
  // The last block stays mapped (empty) when freed, so that Grow's room in it stays true.
  if (block + 1 < blocks_.size()) {
    blocks_[block] = PageBlock();
  }
}

bool XtRuleArena::Movable(size_t block) const {
  // The last block stays, as in Release.
  return block + 1 < blocks_.size() && blocks_[block].size() >= PageBlock::kHugePageSize;
}

bool XtRuleArena::MoveBlock(size_t block, unsigned char* to) {
  if (!Movable(block) || !blocks_[block].MoveTo(to)) return false;
  ++moved_;
  return true;
}

size_t XtRuleArena::mapped() const {
  size_t n = 0;
  for (const PageBlock& b : blocks_) n += b.size();
  return n;
}

}  // namespace kpx
