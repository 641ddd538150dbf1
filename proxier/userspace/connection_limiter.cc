#include "proxier/userspace/connection_limiter.h"

namespace kpx {

ConnectionLimiter::Verdict ConnectionLimiter::TryAcquire(TimePoint now) {
  const int limit = limit_.load(std::memory_order_relaxed);
  const int64_t before = active_.fetch_add(1, std::memory_order_relaxed);
  if (limit <= 0 || before < limit) return Verdict{true, 0};
  active_.fetch_sub(1, std::memory_order_relaxed);
  const uint64_t hits = hits_.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  int64_t last = last_log_ns_.load(std::memory_order_relaxed);
  const int64_t interval_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(log_interval_).count();
  // One thread wins the right to log for this interval.
  if (last != INT64_MIN && now_ns - last < interval_ns) return Verdict{false, 0};
  if (!last_log_ns_.compare_exchange_strong(last, now_ns, std::memory_order_relaxed)) {
    return Verdict{false, 0};
  }
  const uint64_t previous = hits_at_last_log_.exchange(hits, std::memory_order_relaxed);
  return Verdict{false, hits - previous};
}

}  // namespace kpx
