#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kpx {

// Caps the concurrent connections (TCP) and sessions (UDP) of one frontend, and decides when a
// refusal is worth a log line: at most one per interval, with the number refused since the last
// one. Lock-free: every worker thread calls it on accept. Time is passed in, so it is testable.
class ConnectionLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `limit` 0 means unlimited.
  ConnectionLimiter(int limit, std::chrono::milliseconds log_interval)
      : limit_(limit), log_interval_(log_interval) {}

  struct Verdict {
    bool admitted = false;
    // Refused and a warning is due now: how many were refused since the previous warning
    // (this one included). 0 when no warning is due.
    uint64_t log_refused = 0;
  };
  Verdict TryAcquire(TimePoint now);
  // Releases one admitted connection.
  void Release() { active_.fetch_sub(1, std::memory_order_relaxed); }

  void set_limit(int limit) { limit_.store(limit, std::memory_order_relaxed); }
  int limit() const { return limit_.load(std::memory_order_relaxed); }
  int64_t active() const { return active_.load(std::memory_order_relaxed); }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> limit_;
  const std::chrono::milliseconds log_interval_;
  std::atomic<int64_t> active_{0};
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> hits_at_last_log_{0};
  std::atomic<int64_t> last_log_ns_{INT64_MIN};
};

}  // namespace kpx
