#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kpx {

// Parses an RFC 3339 timestamp as the API server writes them ("2024-05-02T09:15:11Z",
// "2024-05-02T09:15:11.123456789Z", or with a "+02:00" offset): Go's time.RFC3339Nano layout,
// which kube-proxy parses endpoints.kubernetes.io/last-change-trigger-time with. Anything else
// (missing parts, out-of-range fields, trailing text) gives nullopt.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

// Writes `t` as the EndpointSlice controller stamps a trigger time: UTC, nine fractional digits
// ("2024-05-02T09:15:11.123456789Z"). ParseRfc3339 reads it back exactly.
std::string FormatRfc3339(std::chrono::system_clock::time_point t);

}  // namespace kpx
