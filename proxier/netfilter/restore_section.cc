#include "proxier/netfilter/restore_section.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "proxier/netfilter/restore_text.h"

namespace kpx {

std::optional<std::vector<RestoreSection>> RestoreSection::Split(
    std::span<const std::string_view> pieces, std::span<const uint8_t> rules_only) {
  std::vector<RestoreSection> out;
  bool open = false;
  size_t start_piece = 0, start_at = 0;
  int line_no = 0;
  // Runs of pieces passed over, [first, end), whose lines line_no lacks: a full sync's 110 000
  // chain texts are one run, where a vector of their indexes cost 2-5 ms of fresh pages.
  std::vector<std::pair<size_t, size_t>> uncounted;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string_view text = pieces[i];
    if (open && i < rules_only.size() && rules_only[i] != 0) {
      if (!uncounted.empty() && uncounted.back().second == i) {
        ++uncounted.back().second;
      } else {
        uncounted.emplace_back(i, i + 1);
      }
      continue;
    }
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t at = pos;
      const std::string_view line = RestoreText::NextLine(text, pos);
      ++line_no;
      if (line.starts_with('*')) {
        if (open) return std::nullopt;
        for (const auto& [first, end] : uncounted) {
          for (size_t u = first; u < end; ++u) {
            for (size_t p = 0; p < pieces[u].size(); ++line_no) {
              RestoreText::NextLine(pieces[u], p);
            }
          }
        }
        uncounted.clear();
        open = true;
        start_piece = i;
        start_at = at;
        out.push_back({std::string(line.substr(1)), {}, line_no});
      } else if (line == "COMMIT") {
        if (!open) return std::nullopt;
        std::vector<std::string_view>& section = out.back().pieces;
        const size_t end = std::min(pos, text.size());
        if (start_piece == i) {
          section.push_back(text.substr(start_at, end - start_at));
        } else {
          // Sized once: a full sync's nat section spans 110 000 pieces, and growing the vector
          // by doubling faulted in and copied twice as much.
          section.reserve(i - start_piece + 1);
          section.push_back(pieces[start_piece].substr(start_at));
          section.insert(section.end(), pieces.begin() + static_cast<ptrdiff_t>(start_piece + 1),
                         pieces.begin() + static_cast<ptrdiff_t>(i));
          section.push_back(text.substr(0, end));
        }
        open = false;
      } else if (open && line.starts_with(':')) {
        ++out.back().declared;
      } else if (!open && !line.empty() && line[0] != '#') {
        return std::nullopt;
      }
    }
  }
  if (open) return std::nullopt;
  return out;
}

}  // namespace kpx
