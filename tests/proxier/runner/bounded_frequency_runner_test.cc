#include "proxier/runner/bounded_frequency_runner.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/proxier/runner/fake_clock.h"

namespace kpx {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest()
      : runner_({milliseconds(100), milliseconds(1000), milliseconds(300)}, clock_,
                [this](bool periodic) {
                  runs_.push_back(periodic);
                  return next_ok_;
                }) {}

  bool Step() { return runner_.RunIfDue(&wake_); }

  FakeClock clock_;
  std::vector<bool> runs_;
  bool next_ok_ = true;
  Clock::TimePoint wake_;
  BoundedFrequencyRunner runner_;
};

TEST_F(RunnerTest, FirstRunIsImmediateThenPeriodicAtMaxInterval) {
  EXPECT_TRUE(Step());
  EXPECT_FALSE(Step());
  EXPECT_EQ(wake_, clock_.Now() + milliseconds(1000));
  clock_.Advance(milliseconds(999));
  EXPECT_FALSE(Step());
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(Step());
  EXPECT_EQ(runs_, (std::vector<bool>{false, true}));
}

TEST_F(RunnerTest, BurstOfRequestsCoalescesAndRespectsMinInterval) {
  EXPECT_TRUE(Step());
  clock_.Advance(milliseconds(10));
  for (int i = 0; i < 50; ++i) runner_.Request();
  EXPECT_FALSE(Step());  // 10 ms after the last run: min interval not yet over
  EXPECT_EQ(wake_, clock_.Now() + milliseconds(90));
  clock_.Advance(milliseconds(90));
  EXPECT_TRUE(Step());
  EXPECT_FALSE(Step());  // the burst produced exactly one run
  EXPECT_EQ(runs_, (std::vector<bool>{false, false}));
}

TEST_F(RunnerTest, RequestAfterQuietPeriodRunsAtOnce) {
  EXPECT_TRUE(Step());
  clock_.Advance(milliseconds(500));
  runner_.Request();
  EXPECT_TRUE(Step());
  EXPECT_FALSE(runs_.back());
}

TEST_F(RunnerTest, FailureIsRetriedAfterRetryInterval) {
  next_ok_ = false;
  EXPECT_TRUE(Step());
  next_ok_ = true;
  EXPECT_EQ(wake_, clock_.Now() + milliseconds(300));
  clock_.Advance(milliseconds(299));
  EXPECT_FALSE(Step());
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(Step());
  EXPECT_FALSE(runs_.back()) << "a retry is not a periodic run";
  EXPECT_EQ(wake_, clock_.Now() + milliseconds(1000));
}

TEST(RunnerTickTest, HousekeepingRunsBetweenSyncsAndASyncCountsAsOne) {
  FakeClock clock;
  std::vector<std::string> log;
  BoundedFrequencyRunner::Options o{milliseconds(100), milliseconds(1000), milliseconds(300),
                                    milliseconds(250)};
  BoundedFrequencyRunner runner(
      o, clock,
      [&](bool) {
        log.push_back("sync");
        return true;
      },
      [&] { log.push_back("tick"); });
  Clock::TimePoint wake;
  EXPECT_TRUE(runner.RunIfDue(&wake));  // first sync
  EXPECT_EQ(wake, clock.Now() + milliseconds(250)) << "the tick is due before the periodic sync";
  clock.Advance(milliseconds(249));
  EXPECT_FALSE(runner.RunIfDue(&wake));
  clock.Advance(milliseconds(1));
  EXPECT_TRUE(runner.RunIfDue(&wake));
  EXPECT_EQ(log, (std::vector<std::string>{"sync", "tick"}));
  // A requested sync 100 ms later resets the housekeeping clock: the next tick is 250 ms after it.
  clock.Advance(milliseconds(100));
  runner.Request();
  EXPECT_TRUE(runner.RunIfDue(&wake));
  EXPECT_EQ(wake, clock.Now() + milliseconds(250));
  clock.Advance(milliseconds(250));
  EXPECT_TRUE(runner.RunIfDue(&wake));
  EXPECT_EQ(log, (std::vector<std::string>{"sync", "tick", "sync", "tick"}));
}

TEST(RunnerTickTest, NoHousekeepingWithoutAnInterval) {
  FakeClock clock;
  int ticks = 0;
  BoundedFrequencyRunner runner(
      {milliseconds(100), milliseconds(1000), milliseconds(300)}, clock, [](bool) { return true; },
      [&] { ++ticks; });
  Clock::TimePoint wake;
  EXPECT_TRUE(runner.RunIfDue(&wake));
  EXPECT_EQ(wake, clock.Now() + milliseconds(1000));
  clock.Advance(milliseconds(999));
  EXPECT_FALSE(runner.RunIfDue(&wake));
  EXPECT_EQ(ticks, 0);
}

TEST_F(RunnerTest, LoopRunsOnRequestAndStopsPromptly) {
  // Real threads, fake clock frozen: only the first run and requests past min_interval happen.
  FakeClock clock;
  std::atomic<int> runs{0};
  BoundedFrequencyRunner r({milliseconds(0), milliseconds(60000), milliseconds(1000)}, clock,
                           [&](bool) {
                             ++runs;
                             return true;
                           });
  std::thread t([&] { r.Loop(); });
  for (int i = 0; i < 200 && runs.load() < 1; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(runs.load(), 1);
  r.Request();
  for (int i = 0; i < 200 && runs.load() < 2; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(runs.load(), 2);
  r.Stop();
  t.join();
}

}  // namespace
}  // namespace kpx
