#include "proxier/netfilter/subprocess_executor.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

// Counts fork() calls made from this executable (the executor is linked in statically, so its
// calls resolve here first) and forwards them to libc.
std::atomic<int> g_forks{0};

extern "C" pid_t fork() {
  ++g_forks;
  using Fork = pid_t (*)();
  static const Fork real = reinterpret_cast<Fork>(dlsym(RTLD_NEXT, "fork"));
  return real();
}

namespace kpx {
namespace {

// kpx at 10 000 services holds hundreds of MiB; fork copied its page tables for every
// iptables-restore. The executor must start children without forking this process.
TEST(SubprocessExecutor, SpawnsChildrenWithoutForkingThisProcess) {
  // The counter sees this binary's forks (so the check below can fail).
  const int before = g_forks;
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(g_forks, before + 1);

  SubprocessExecutor exec;
  const std::string input(1 << 18, 'k');
  auto out = exec.Run({"cat"}, input);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->out, input);
  auto missing = exec.Run({"kpx-no-such-binary"}, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot execute kpx-no-such-binary"),
            std::string::npos);
  EXPECT_EQ(g_forks, before + 1);
}

}  // namespace
}  // namespace kpx
