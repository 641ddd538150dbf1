#include "cmd/open_file_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace kpx {
namespace {

// Issue 17 item 2: containerd 2.x starts containers with a soft limit of 1024; kpx must raise it
// to the hard limit at start, as the Go runtime does for kube-proxy.
TEST(OpenFileLimitTest, RaisesTheSoftLimitToTheHardLimit) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 512) GTEST_SKIP() << "hard limit too low to lower the soft one";
  rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

  const Result<uint64_t> raised = RaiseOpenFileLimit();
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(raised.ok()) << raised.status().message();
  EXPECT_EQ(now.rlim_cur, saved.rlim_max);
  EXPECT_EQ(*raised, static_cast<uint64_t>(saved.rlim_max));
}

TEST(OpenFileLimitTest, AlreadyAtTheHardLimitIsFine) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit at_max = saved;
  at_max.rlim_cur = saved.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &at_max), 0);
  const Result<uint64_t> raised = RaiseOpenFileLimit();
  setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(raised.ok());
  EXPECT_EQ(*raised, static_cast<uint64_t>(saved.rlim_max));
}

}  // namespace
}  // namespace kpx
