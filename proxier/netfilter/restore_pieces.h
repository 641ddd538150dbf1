#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kpx {

// Pieces of restore input in one string, as they read joined.
std::string JoinPieces(std::span<const std::string_view> pieces);

// iptables-restore input as an ordered list of pieces, each made of whole lines, without one
// buffer holding it all: a full sync's 110 000 chain texts (32 MB at 10 000 x 10) stay where the
// renderer put them and are only viewed here, instead of being copied into 32 MB of fresh pages
// that the libiptc runner then reads once. Short lines written between them go to pieces owned
// here. The viewed texts must outlive every use of the pieces.
class RestorePieces {
 public:
  // Appends to the piece owned here that is being written.
  void Append(std::string_view text) { open_ += text; }
  void Append(char c) { open_.push_back(c); }
  // Room for `n` bytes in the owned piece being written, and for `pieces` pieces in all (a full
  // sync's 110 000 chain texts, whose list grown by doubling faulted in and copied its memory
  // twice over).
  void Reserve(size_t n, size_t pieces = 0) {
    open_.reserve(n);
    pieces_.reserve(pieces);
    rules_only_.reserve(pieces);
  }
  // Appends a piece owned elsewhere (whole lines: empty, or ending in '\n').
  void View(std::string_view text);
  // The same for a piece of rule lines only ("-A ..."): rules_only() says so.
  void ViewRules(std::string_view text);
  // Every piece, in order.
  std::span<const std::string_view> pieces();
  // Per piece of pieces(): 1 for those viewed by ViewRules.
  std::span<const uint8_t> rules_only() const { return rules_only_; }
  bool empty() const { return size_ == 0 && open_.empty(); }
  size_t size() const { return size_ + open_.size(); }
  // The whole input in one string (exec runners hand it to a process; tests compare it).
  std::string Join() const;

 private:
  // Ends the owned piece being written: from now on it is only viewed.
  void Seal();

  std::deque<std::string> owned_;  // a deque: a sealed piece never moves
  std::string open_;
  std::vector<std::string_view> pieces_;
  std::vector<uint8_t> rules_only_;  // per piece
  size_t size_ = 0;                  // bytes in pieces_
};

}  // namespace kpx
