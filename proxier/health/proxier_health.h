#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace kpx {

// kube-proxy's /healthz rule, pure: kpx is healthy unless a change has waited longer than the
// timeout (2 x sync period) without being applied. A proxier still starting up with nothing
// queued is healthy; a stuck sync loop or a dataplane failing every attempt is not.
class ProxierHealth {
 public:
  using Clock = std::chrono::steady_clock;
  struct Report {
    bool healthy = true;
    int code = 200;
    std::string body;  // kube-proxy's JSON body
  };

  // `wall_now` and the `*_wall` times are for the body only (RFC 3339 UTC); the decision uses
  // the monotonic times. `node_eligible` false (node being deleted) fails /healthz but not /livez.
  static Report Evaluate(Clock::time_point now, std::chrono::system_clock::time_point wall_now,
                         std::optional<Clock::time_point> oldest_pending,
                         std::optional<std::chrono::system_clock::time_point> last_updated_wall,
                         std::chrono::milliseconds timeout, std::optional<bool> node_eligible);

  // "2026-11-26T02:24:33.277446Z"; the zero time prints as Go's zero time, as kube-proxy does.
  static std::string FormatTime(std::optional<std::chrono::system_clock::time_point> t);
};

}  // namespace kpx
