#include "base/helper_cpu.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/thread_cpu_clock.h"

namespace kpx {
namespace {

using std::chrono::milliseconds;

// A helper's scope adds what that thread worked, not what it slept nor what the waiting thread
// did; Add adds exactly what it is given.
TEST(HelperCpuTest, ScopesAddTheirThreadsWork) {
  const auto before = HelperCpu::Total();
  std::thread helper([] {
    HelperCpu::Scope scope;
    const auto start = ThreadCpuTime();
    volatile unsigned s = 0;
    while (ThreadCpuTime() - start < milliseconds(20)) s = s + 1;
    std::this_thread::sleep_for(milliseconds(40));
  });
  helper.join();
  const auto added = HelperCpu::Total() - before;
  EXPECT_GE(added, milliseconds(20));
  EXPECT_LT(added, milliseconds(40));

  const auto now = HelperCpu::Total();
  HelperCpu::Add(std::chrono::microseconds(1234));
  EXPECT_EQ(HelperCpu::Total() - now, std::chrono::microseconds(1234));
}

}  // namespace
}  // namespace kpx
