#pragma once

#include <atomic>
#include <chrono>

#include "proxier/runner/clock.h"

namespace kpx::testing {

// A clock that moves only when the test says so.
class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return TimePoint(Duration(now_.load())); }
  void Advance(std::chrono::milliseconds d) { now_ += Duration(d).count(); }

 private:
  std::atomic<Duration::rep> now_{Duration(std::chrono::hours(1)).count()};
};

}  // namespace kpx::testing
