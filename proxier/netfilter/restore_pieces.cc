#include "proxier/netfilter/restore_pieces.h"

namespace kpx {

std::string JoinPieces(std::span<const std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  std::string out;
  out.reserve(size);
  for (std::string_view p : pieces) out += p;
  return out;
}

void RestorePieces::Seal() {
  if (open_.empty()) return;
  owned_.push_back(std::move(open_));
  open_.clear();
  pieces_.push_back(owned_.back());
  size_ += owned_.back().size();
}

void RestorePieces::View(std::string_view text) {
  if (text.empty()) return;
  Seal();
  pieces_.push_back(text);
  size_ += text.size();
}

std::span<const std::string_view> RestorePieces::pieces() {
  Seal();
  return pieces_;
}

std::string RestorePieces::Join() const { return JoinPieces(pieces_) + open_; }

}  // namespace kpx
