#include "base/text_arena.h"

#include <cstring>
#include <functional>

namespace kpx {

std::string_view TextArena::Add(std::string_view text) {
  if (text.empty()) return {};
  if (text.size() > room_) {
    if (text.size() > kBlock) {
      // A text longer than a block gets one of its own, and the last block keeps its room.
      char* at = large_.emplace_back(std::make_unique_for_overwrite<char[]>(text.size())).get();
      std::memcpy(at, text.data(), text.size());
      bytes_ += text.size();
      return {at, text.size()};
    }
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlock));
    room_ = kBlock;
  }
  char* at = blocks_.back().get() + (kBlock - room_);
  std::memcpy(at, text.data(), text.size());
  room_ -= text.size();
  bytes_ += text.size();
  return {at, text.size()};
}

void TextArena::ReleaseBefore(std::string_view text) {
  if (text.empty()) return;
  const std::less<const char*> before;
  for (size_t k = released_; k < blocks_.size(); ++k) {
    const char* b = blocks_[k].get();
    if (!before(text.data(), b) && before(text.data(), b + kBlock)) {
      for (; released_ < k; ++released_) blocks_[released_].reset();
      return;
    }
  }
}

void TextArena::Clear() {
  blocks_.clear();
  blocks_.shrink_to_fit();
  large_.clear();
  large_.shrink_to_fit();
  room_ = 0;
  released_ = 0;
  bytes_ = 0;
}

}  // namespace kpx
