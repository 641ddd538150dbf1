#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "base/page_block.h"

namespace kpx {

// Text copied into large blocks of its own and freed all at once. For text that lives only
// until one step is done with it while small long-lived objects are allocated around it: freed
// from the general heap, its holes between those objects keep their pages resident. The blocks
// are PageBlocks, populated whole when made (huge pages from 2 MiB up) rather than faulted in a
// page at a time as the text is copied in.
class TextArena {
 public:
  // A copy of `text`, valid until Clear.
  std::string_view Add(std::string_view text);
  // Frees every block but a first one of the smallest size, which the next texts reuse: a
  // one-endpoint sync renders a few KB, and mapping and faulting in a fresh block for them on
  // every sync cost more than rendering them.
  void Clear();
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t kFirstBlock = size_t{64} << 10;
  static constexpr size_t kBlock = size_t{2} << 20;
  std::vector<PageBlock> blocks_;
  std::vector<PageBlock> large_;  // one text each
  size_t room_ = 0;               // bytes left at the end of the last block
  size_t bytes_ = 0;
};

}  // namespace kpx
