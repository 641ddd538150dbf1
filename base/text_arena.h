#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace kpx {

// Text copied into large blocks of its own and freed all at once. For text that lives only
// until one step is done with it while small long-lived objects are allocated around it: freed
// from the general heap, its holes between those objects keep their pages resident.
class TextArena {
 public:
  // A copy of `text`, valid until Clear.
  std::string_view Add(std::string_view text);
  // Frees the blocks before the one holding `text`, for a reader that goes through the texts
  // in the order they were added and is done with those: the copy being built from them then
  // grows while they shrink. A text not in a block (empty, or of its own) frees nothing.
  void ReleaseBefore(std::string_view text);
  // Frees every block.
  void Clear();
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t kBlock = size_t{1} << 20;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<std::unique_ptr<char[]>> large_;  // one text each
  size_t room_ = 0;                             // bytes left at the end of the last block
  size_t released_ = 0;                         // blocks_[0, released_) are freed
  size_t bytes_ = 0;
};

}  // namespace kpx
