#include "cmd/instance_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace kpx {
namespace {

std::string UniqueName() { return "kpx-lock-test-" + std::to_string(getpid()); }

TEST(InstanceLockTest, SecondHolderIsRefusedUntilTheFirstLetsGo) {
  const std::string name = UniqueName();
  {
    InstanceLock first(name);
    ASSERT_TRUE(first.Acquire().ok());
    InstanceLock second(name);
    const Status st = second.Acquire();
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.message(), "another kpx is already running in this network namespace");
  }
  InstanceLock again(name);
  EXPECT_TRUE(again.Acquire().ok());
}

TEST(InstanceLockTest, KilledHolderLeavesNoStaleLock) {
  const std::string name = UniqueName() + "-kill";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    InstanceLock lock(name);
    const char c = lock.Acquire().ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  InstanceLock contender(name);
  EXPECT_FALSE(contender.Acquire().ok());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_TRUE(contender.Acquire().ok());
  close(ready[0]);
  close(ready[1]);
}

}  // namespace
}  // namespace kpx
