#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace kpx {

// Splits a byte stream that arrives in arbitrary pieces (HTTP chunks, socket reads) into
// newline-terminated lines, the framing of Kubernetes JSON watch streams. A line longer than
// `max_line` is dropped whole (counted in dropped_lines()) so one hostile or broken event cannot
// grow memory without bound.
class LineSplitter {
 public:
  // Return false to stop: Feed returns at once and remaining bytes are discarded.
  using LineFn = std::function<bool(std::string_view line)>;

  explicit LineSplitter(size_t max_line = size_t{64} << 20) : max_line_(max_line) {}

  // Calls on_line for every line completed by `bytes` (without the '\n', and without a '\r'
  // before it). Returns false if a callback asked to stop.
  bool Feed(std::string_view bytes, const LineFn& on_line);
  // Bytes received after the last newline: an incomplete event when a stream ends.
  const std::string& pending() const { return pending_; }
  size_t dropped_lines() const { return dropped_lines_; }

 private:
  const size_t max_line_;
  std::string pending_;
  bool overflowing_ = false;
  size_t dropped_lines_ = 0;
};

}  // namespace kpx
