#include "proxier/runner/bounded_frequency_runner.h"

#include <algorithm>
#include <utility>

namespace kpx {

BoundedFrequencyRunner::BoundedFrequencyRunner(Options options, const Clock& clock, SyncFn fn,
                                               TickFn tick)
    : options_(options), clock_(clock), fn_(std::move(fn)), tick_(std::move(tick)) {}

void BoundedFrequencyRunner::Request() {
  {
    std::lock_guard lock(mu_);
    requested_ = true;
  }
  cv_.notify_all();
}

void BoundedFrequencyRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

Clock::TimePoint BoundedFrequencyRunner::DueAtLocked() const {
  if (!last_run_) return Clock::TimePoint::min();  // the first run happens at once
  const Clock::TimePoint earliest = *last_run_ + options_.min_interval;
  Clock::TimePoint due = *last_run_ + options_.max_interval;
  if (requested_) due = std::min(due, earliest);
  if (retry_at_) due = std::min(due, std::max(*retry_at_, earliest));
  return due;
}

Clock::TimePoint BoundedFrequencyRunner::TickDueAtLocked() const {
  if (!tick_ || options_.tick_interval.count() <= 0 || !last_tick_) {
    return Clock::TimePoint::max();
  }
  return *last_tick_ + options_.tick_interval;
}

bool BoundedFrequencyRunner::RunIfDue(Clock::TimePoint* wake_at) {
  bool periodic = false;
  {
    std::unique_lock lock(mu_);
    const Clock::TimePoint now = clock_.Now();
    const Clock::TimePoint due = DueAtLocked();
    if (now < due) {
      if (now >= TickDueAtLocked()) {
        last_tick_ = now;
        lock.unlock();
        tick_();
        lock.lock();
        if (wake_at) *wake_at = std::min(DueAtLocked(), TickDueAtLocked());
        return true;
      }
      if (wake_at) *wake_at = std::min(due, TickDueAtLocked());
      return false;
    }
    periodic = last_run_ && !requested_ && !retry_at_;
    // Requests that arrive while fn_ runs set requested_ again and get their own run.
    requested_ = false;
    retry_at_.reset();
    last_run_ = now;
    last_tick_ = now;  // a sync does the housekeeping too
  }
  const bool ok = fn_(periodic);
  std::lock_guard lock(mu_);
  if (!ok) {
    const auto retry = std::min(options_.retry_interval, options_.max_interval);
    retry_at_ = *last_run_ + retry;
  }
  if (wake_at) *wake_at = std::min(DueAtLocked(), TickDueAtLocked());
  return true;
}

void BoundedFrequencyRunner::Loop() {
  for (;;) {
    Clock::TimePoint wake_at;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
    }
    if (RunIfDue(&wake_at)) continue;
    std::unique_lock lock(mu_);
    if (stopped_) return;
    // wake_at already accounts for a pending request; a new one must recompute it. The real
    // clock only bounds the wait; RunIfDue re-reads the injected clock to decide.
    const bool was_requested = requested_;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - clock_.Now());
    cv_.wait_for(lock, std::max(wait, std::chrono::milliseconds(1)),
                 [&] { return stopped_ || requested_ != was_requested; });
  }
}

}  // namespace kpx
