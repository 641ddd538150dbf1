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
  rules_only_.push_back(0);
  size_ += owned_.back().size();
}

void RestorePieces::View(std::string_view text) {
  if (text.empty()) return;
  Seal();
  pieces_.push_back(text);
  rules_only_.push_back(0);
  size_ += text.size();
}

void RestorePieces::ViewRules(std::string_view text) {
  View(text);
  if (!text.empty()) rules_only_.back() = 1;
}

std::span<const std::string_view> RestorePieces::pieces() {
  Seal();
  return pieces_;
}

std::string RestorePieces::Join() const { return JoinPieces(pieces_) + open_; }

}  // namespace kpx
