#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>

#include "proxier/runner/clock.h"

namespace kpx {

// Runs a sync function at a bounded frequency, as kube-proxy's BoundedFrequencyRunner does:
// requests (Request()) arriving in a burst coalesce into one run; two runs are at least
// min_interval apart; a run happens at least every max_interval even without requests (periodic
// full resync); a failed run is retried after retry_interval (capped by max_interval).
//
// An optional housekeeping function runs on the same thread every tick_interval between runs (for
// work that must not wait for the next change, such as deleting IPVS destinations that finished
// draining); a run of the sync function counts as housekeeping too.
//
// The scheduling decision (NextRun) is pure and driven by the injected Clock, so it is tested
// without threads; Loop() is the thin threaded wrapper. The constructor starts no thread.
class BoundedFrequencyRunner {
 public:
  struct Options {
    std::chrono::milliseconds min_interval{1000};
    std::chrono::milliseconds max_interval{30000};
    std::chrono::milliseconds retry_interval{5000};
    // Zero: no housekeeping.
    std::chrono::milliseconds tick_interval{0};
  };
  // Returns true on success. `periodic` is true when the run was triggered by max_interval only.
  using SyncFn = std::function<bool(bool periodic)>;
  using TickFn = std::function<void()>;

  BoundedFrequencyRunner(Options options, const Clock& clock, SyncFn fn, TickFn tick = nullptr);

  // Asks for a run as soon as min_interval allows. Thread-safe, never blocks on a running sync.
  void Request();
  // Runs until Stop(). Blocks the calling thread.
  void Loop();
  void Stop();

  // One scheduling step for tests and Loop(): if a run (or a housekeeping tick) is due at `now`,
  // performs it and returns true; otherwise returns false. `wake_at` receives when the next run
  // or tick may be due.
  bool RunIfDue(Clock::TimePoint* wake_at);

 private:
  Clock::TimePoint DueAtLocked() const;
  Clock::TimePoint TickDueAtLocked() const;

  const Options options_;
  const Clock& clock_;
  const SyncFn fn_;
  const TickFn tick_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stopped_ = false;
  std::optional<Clock::TimePoint> last_run_;
  std::optional<Clock::TimePoint> retry_at_;
  std::optional<Clock::TimePoint> last_tick_;
};

}  // namespace kpx
