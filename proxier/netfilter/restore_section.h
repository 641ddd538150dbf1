#pragma once

#include <cstddef>
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
  // says what is wrong).
  static std::optional<std::vector<RestoreSection>> Split(std::span<const std::string_view> pieces);
};

}  // namespace kpx
