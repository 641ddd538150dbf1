// NetlinkNfacct against the kernel's nfnetlink_acct, in a network namespace of its own (a forked
// child unshares one): counters are created once, read back, and count the packets an
// "-m nfacct" rule sees.
#include "proxier/netfilter/netlink_nfacct.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "proxier/netfilter/fake_nfacct.h"
#include "proxier/netfilter/subprocess_executor.h"

namespace kpx {
namespace {

// Exit codes name the step that failed.
int CountInOwnNetns() {
  if (unshare(CLONE_NEWNET) != 0) return 10;
  SubprocessExecutor exec;
  auto up = exec.Run({"ip", "link", "set", "lo", "up"}, "");
  if (!up.ok() || up->exit_code != 0) return 11;
  NetlinkNfacct acct;
  if (!acct.Ensure(kCtStateInvalidDroppedCounter).ok()) return 12;
  if (!acct.Ensure(kCtStateInvalidDroppedCounter).ok()) return 13;  // exists: still fine
  auto zero = acct.Packets(kCtStateInvalidDroppedCounter);
  if (!zero.ok() || *zero != 0) return 14;
  if (acct.Packets("kpx_no_such_counter").ok()) return 15;
  auto rule = exec.Run({"iptables-legacy", "-w", "5", "-A", "OUTPUT", "-o", "lo", "-p", "udp", "-m",
                        "nfacct", "--nfacct-name", kCtStateInvalidDroppedCounter},
                       "");
  if (!rule.ok() || rule->exit_code != 0) return 16;
  const int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  for (int i = 0; i < 3; ++i) {
    if (sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 1) return 17;
  }
  close(s);
  auto three = acct.Packets(kCtStateInvalidDroppedCounter);
  if (!three.ok() || *three != 3) return 18;
  return 0;
}

TEST(NetlinkNfacctTest, CreatesReadsAndCountsInTheKernel) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespace, nfnetlink_acct)";
  const pid_t pid = fork();
  if (pid == 0) _exit(CountInOwnNetns());
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed step (see CountInOwnNetns)";
}

TEST(FakeNfacctTest, BehavesLikeTheKernelForTheProxier) {
  FakeNfacct fake;
  ASSERT_TRUE(fake.Ensure("a").ok());
  fake.counters["a"] = 5;
  ASSERT_TRUE(fake.Ensure("a").ok());
  EXPECT_EQ(*fake.Packets("a"), 5u);
  EXPECT_FALSE(fake.Packets("b").ok());
  fake.unsupported = true;
  EXPECT_FALSE(fake.Ensure("c").ok());
}

}  // namespace
}  // namespace kpx
