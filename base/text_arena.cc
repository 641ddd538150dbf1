#include "base/text_arena.h"

#include <algorithm>
#include <cstring>

namespace kpx {

std::string_view TextArena::Add(std::string_view text) {
  if (text.empty()) return {};
  if (text.size() > room_) {
    if (text.size() > kBlock) {
      // A text longer than a block gets one of its own, and the last block keeps its room.
      auto* at = reinterpret_cast<char*>(large_.emplace_back(PageBlock::Map(text.size())).data());
      std::memcpy(at, text.data(), text.size());
      bytes_ += text.size();
      return {at, text.size()};
    }
    const size_t size =
        std::max(text.size(), PageBlock::GrowingSize(blocks_.size(), kFirstBlock, kBlock));
    blocks_.push_back(PageBlock::Map(size));
    room_ = blocks_.back().size();
  }
  const PageBlock& b = blocks_.back();
  char* at = reinterpret_cast<char*>(b.data()) + (b.size() - room_);
  std::memcpy(at, text.data(), text.size());
  room_ -= text.size();
  bytes_ += text.size();
  return {at, text.size()};
}

void TextArena::Clear() {
  if (!blocks_.empty() && blocks_.front().size() <= kFirstBlock) {
    blocks_.resize(1);
    room_ = blocks_.front().size();
  } else {
    blocks_.clear();
    blocks_.shrink_to_fit();
    room_ = 0;
  }
  large_.clear();
  large_.shrink_to_fit();
  bytes_ = 0;
}

}  // namespace kpx
