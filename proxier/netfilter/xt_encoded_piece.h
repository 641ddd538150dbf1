#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "base/ip_address.h"
#include "proxier/netfilter/xt_rule_arena.h"
#include "proxier/netfilter/xt_rules.h"

namespace kpx {

// A piece of restore input holding one chain's rule lines, read and encoded ahead of the plan:
// a full sync's renderer encodes each of its 110 000 chain texts on the thread that rendered it
// (both cores), so that the plan, one thread, takes the rules as they are instead of reading and
// encoding 32 MB of text itself. Not ok when the piece is not only appends to one chain, or when
// a line fails to encode: the plan then reads the piece's lines itself and says what is wrong
// there exactly as it would have.
struct XtEncodedPiece {
  bool ok = false;
  int lines = 0;       // in the piece
  int first_rule = 0;  // the line of its first rule, counted from 1 in the piece
  XtRules rules;       // in the arena given to Encode

  // The chain's name, kept here rather than viewing the piece: the plan, reading these pieces
  // one after another, would otherwise take a cache miss on each of a full sync's 110 000 texts
  // for the name alone.
  std::string_view chain() const { return {name_.data(), name_size_}; }

  static XtEncodedPiece Encode(IpFamily family, std::string_view text, XtRuleArena& arena);

 private:
  static constexpr size_t kMaxName = 28;  // x_tables' chain names
  std::array<char, kMaxName> name_{};
  uint8_t name_size_ = 0;
};

}  // namespace kpx
