#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kpx {

// One "*table ... COMMIT" section of restore text given in pieces of whole lines (one piece: the
// text itself), found from the lines' first bytes only (a line is never continued, quoted or
// not). It views the pieces it spans, the first and last cut at its lines.
struct RestoreSection {
  std::string name;
  std::vector<std::string_view> pieces;
  int first_line = 1;   // in the whole text
  size_t declared = 0;  // its ":chain" lines

  // The text's sections; nullopt when the text is not made of such sections (its parse then
  // says what is wrong). `rules_only[i]`, when given, vouches that pieces[i] holds rule lines
  // only: inside a section such a piece is not read (its lines are counted only if a section
  // starts after it), which a full sync's 110 000 chain texts, reached out of the order they
  // were written in, cost 20-30 ms before the plan read them again.
  static std::optional<std::vector<RestoreSection>> Split(std::span<const std::string_view> pieces,
                                                          std::span<const uint8_t> rules_only = {});
};

}  // namespace kpx
