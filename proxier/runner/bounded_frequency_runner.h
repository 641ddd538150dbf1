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
// The scheduling decision (NextRun) is pure and driven by the injected Clock, so it is tested
// without threads; Loop() is the thin threaded wrapper. The constructor starts no thread.
class BoundedFrequencyRunner {
 public:
  struct Options {
    std::chrono::milliseconds min_interval{1000};
    std::chrono::milliseconds max_interval{30000};
    std::chrono::milliseconds retry_interval{5000};
  };
  // Returns true on success. `periodic` is true when the run was triggered by max_interval only.
  using SyncFn = std::function<bool(bool periodic)>;

  BoundedFrequencyRunner(Options options, const Clock& clock, SyncFn fn);

  // Asks for a run as soon as min_interval allows. Thread-safe, never blocks on a running sync.
  void Request();
  // Runs until Stop(). Blocks the calling thread.
  void Loop();
  void Stop();

  // One scheduling step for tests and Loop(): if a run is due at `now`, performs it and returns
  // true; otherwise returns false. `wake_at` receives when the next run may be due.
  bool RunIfDue(Clock::TimePoint* wake_at);

 private:
  Clock::TimePoint DueAtLocked() const;

  const Options options_;
  const Clock& clock_;
  const SyncFn fn_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stopped_ = false;
  std::optional<Clock::TimePoint> last_run_;
  std::optional<Clock::TimePoint> retry_at_;
};

}  // namespace kpx
