#include "proxier/netfilter/restore_section.h"

#include <algorithm>

#include "proxier/netfilter/restore_text.h"

namespace kpx {

std::optional<std::vector<RestoreSection>> RestoreSection::Split(
    std::span<const std::string_view> pieces, std::span<const uint8_t> rules_only) {
  std::vector<RestoreSection> out;
  bool open = false;
  size_t start_piece = 0, start_at = 0;
  int line_no = 0;
  std::vector<size_t> uncounted;  // pieces passed over, whose lines line_no lacks
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string_view text = pieces[i];
    if (open && i < rules_only.size() && rules_only[i] != 0) {
      uncounted.push_back(i);
      continue;
    }
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t at = pos;
      const std::string_view line = RestoreText::NextLine(text, pos);
      ++line_no;
      if (line.starts_with('*')) {
        if (open) return std::nullopt;
        for (size_t u : uncounted) {
          for (size_t p = 0; p < pieces[u].size(); ++line_no) RestoreText::NextLine(pieces[u], p);
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
          section.push_back(pieces[start_piece].substr(start_at));
          for (size_t j = start_piece + 1; j < i; ++j) section.push_back(pieces[j]);
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
