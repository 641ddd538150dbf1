#include "base/thread_cpu_clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace kpx {
namespace {

using std::chrono::milliseconds;

TEST(ThreadCpuClockTest, CountsTheThreadsWorkNotItsSleepNorOtherThreads) {
  const auto wall0 = std::chrono::steady_clock::now();
  const auto cpu0 = ThreadCpuTime();
  // Work until the clock has counted 5 ms: it must advance, and not faster than wall time (the
  // two clocks tick apart: a few microseconds either way).
  volatile unsigned sink = 0;
  while (ThreadCpuTime() - cpu0 < milliseconds(5)) {
    for (int i = 0; i < 1000; ++i) sink = sink + static_cast<unsigned>(i);
  }
  const auto worked = ThreadCpuTime() - cpu0;
  const auto wall = std::chrono::steady_clock::now() - wall0;
  EXPECT_GE(worked, milliseconds(5));
  EXPECT_LE(worked, wall + milliseconds(1));

  // Another thread's work and this thread's sleep are not this thread's CPU time.
  const auto cpu1 = ThreadCpuTime();
  std::thread other([] {
    const auto start = ThreadCpuTime();
    volatile unsigned s = 0;
    while (ThreadCpuTime() - start < milliseconds(30)) s = s + 1;
  });
  other.join();
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_LT(ThreadCpuTime() - cpu1, milliseconds(20));
}

}  // namespace
}  // namespace kpx
