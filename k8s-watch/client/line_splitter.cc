#include "k8s-watch/client/line_splitter.h"

namespace kpx {

bool LineSplitter::Feed(std::string_view bytes, const LineFn& on_line) {
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (!overflowing_) {
      if (pending_.size() + piece.size() > max_line_) {
        overflowing_ = true;
        pending_.clear();
        pending_.shrink_to_fit();
      } else {
        pending_.append(piece);
      }
    }
    if (nl == std::string_view::npos) return true;
    bytes.remove_prefix(nl + 1);
    if (overflowing_) {
      overflowing_ = false;
      ++dropped_lines_;
      continue;
    }
    std::string line;
    line.swap(pending_);
    std::string_view view(line);
    if (view.ends_with('\r')) view.remove_suffix(1);
    if (!on_line(view)) return false;
  }
  return true;
}

}  // namespace kpx
