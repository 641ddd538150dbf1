#pragma once

#include <cstddef>
#include <future>

#include "base/page_block.h"

namespace kpx {

// PageBlocks made one ahead, on a thread of their own, for a writer that fills large blocks one
// after another (a full sync's encoded rules: 70 MB in 8 MiB blocks). A fresh block's pages are
// zeroed by the kernel as it is populated, and on a virtualized node that was a fifth of the
// writer's time (2 ms per MiB). Made ahead, that zeroing runs on another core while the writer
// fills the block before. What is made ahead and never taken is freed unused: a writer asks for
// blocks ahead only once it is on a large job.
class PageBlockSupply {
 public:
  PageBlockSupply() = default;
  PageBlockSupply(const PageBlockSupply&) = delete;
  PageBlockSupply& operator=(const PageBlockSupply&) = delete;
  ~PageBlockSupply();  // waits for the block in the making, and frees it

  // A populated block of at least `bytes` (PageBlock::Map): the one made ahead when it is
  // large enough, else one made now. `next` > 0 starts making a block of `next` bytes ahead.
  // Throws std::bad_alloc when the kernel refuses, as PageBlock::Map does.
  PageBlock Take(size_t bytes, size_t next);

  size_t made_ahead() const { return made_ahead_; }  // blocks Take handed out made ahead

 private:
  std::future<PageBlock> ahead_;
  size_t made_ahead_ = 0;
};

}  // namespace kpx
