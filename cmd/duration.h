#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kpx {

// Parses a Go duration ("30s", "1m30s", "250ms", "1h", "0") as kube-proxy's flags and config
// file accept them. Negative durations and unknown units are rejected.
std::optional<std::chrono::milliseconds> ParseGoDuration(std::string_view text);
// The inverse, for messages: "1m30s", "250ms".
std::string FormatGoDuration(std::chrono::milliseconds d);

}  // namespace kpx
