#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/page_block.h"
#include "base/page_block_supply.h"

namespace kpx {

// Where one restore section's new rules are encoded: a full sync's 320 000 rules (105 MB) went
// into 110 000 chains' own heap buffers, each grown by doubling, all of it fresh memory faulted
// in 4 KiB at a time, and laid out by reading them back from all over the heap. Here each chain's
// rules are one region of a few large PageBlocks, the regions one after another in the order
// the section fills them (a chain's rules come one after another in kpx's text). Regions are
// never freed one by one: whole blocks are, by a reader done with them (Release), and the rest
// goes with the arena, after the section is applied.
class XtRuleArena {
 public:
  // Makes room for `more` bytes after the `used` bytes at `region` (nullptr for a new region)
  // and returns where the region now starts: in place when it is the last one handed out and
  // its block has the room, else a fresh region with the `used` bytes copied into it (the old
  // one is left unused).
  unsigned char* Grow(unsigned char* region, size_t used, size_t more);
  // For a reader done with every region of a block (laying a table out, whose order the
  // regions mostly follow): the block of a region, and freeing one.
  static constexpr size_t kNoBlock = SIZE_MAX;
  size_t blocks() const { return blocks_.size(); }
  size_t BlockSize(size_t block) const { return blocks_[block].size(); }  // 0 once freed
  // kNoBlock for an address in none; `hint`, a block to try first (the previous answer).
  size_t BlockOf(const unsigned char* at, size_t hint = kNoBlock) const;
  void Release(size_t block);
  // Instead of freeing a block of 2 MiB or more: its pages moved onto [to, to + BlockSize), for a
  // reader about to write that much there into fresh memory (see PageBlock::MoveTo; `to` 2 MiB
  // aligned). False (nothing done) when the block is smaller, the last one, or not moved.
  bool MoveBlock(size_t block, unsigned char* to);
  // Whether MoveBlock would try it: a block of 2 MiB or more, not the last one.
  bool Movable(size_t block) const;
  size_t moved() const { return moved_; }  // blocks MoveBlock moved
  size_t mapped() const;                   // bytes of the blocks not freed
  size_t made_ahead() const { return supply_.made_ahead(); }

 private:
  static constexpr size_t kFirstBlock = size_t{64} << 10;
  static constexpr size_t kMaxBlock = size_t{8} << 20;
  // Blocks of the largest size are made one ahead: a full sync's 70 MB of rules are zeroed on
  // another core while the plan encodes into the block before. Declared before the blocks, so
  // that the block in the making is waited for after they are freed.
  PageBlockSupply supply_;
  std::vector<PageBlock> blocks_;
  size_t used_ = 0;  // of blocks_.back()
  size_t moved_ = 0;
};

}  // namespace kpx
