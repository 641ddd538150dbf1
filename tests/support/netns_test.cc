#include "tests/support/netns.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/command.h"

namespace kpx::testing {
namespace {

bool NetnsExists(const std::string& name) { return std::filesystem::exists("/run/netns/" + name); }

// Gone, or a zombie waiting for init to reap it after its parent died: either way not running.
bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_text, comm, state;
  if (!(stat >> pid_text >> comm >> state)) return false;
  return state != "Z" && state != "X";
}

// A SIGKILLed process is gone a moment after kill() returns, not at once: bounded wait.
bool StopsRunning(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (!Running(pid)) return true;
    usleep(10000);
  }
  return false;
}

class TestNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = TestNetns::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(TestNetnsTest, NamesAreUniquePerInstance) {
  TestNetns one("kpx-support");
  TestNetns two("kpx-support");
  ASSERT_TRUE(one.Add("a").ok());
  ASSERT_TRUE(two.Add("a").ok());
  EXPECT_NE(one.Name("a"), two.Name("a"));
  EXPECT_NE(one.Name("a").find("-" + std::to_string(getpid()) + "-"), std::string::npos);
}

TEST_F(TestNetnsTest, DestructionRemovesNamespacesLinksAndProcesses) {
  std::string a, b;
  pid_t pid = -1;
  {
    TestNetns netns("kpx-support");
    ASSERT_TRUE(netns.Add("a").ok());
    ASSERT_TRUE(netns.Add("b").ok());
    a = netns.Name("a");
    b = netns.Name("b");
    Status link = netns.Link("a", "sa0", "b", "sb0");
    ASSERT_TRUE(link.ok()) << link.message();
    ASSERT_TRUE(netns.Ip("a", {"addr", "add", "10.201.0.1/24", "dev", "sa0"}).ok());
    ASSERT_TRUE(netns.Ip("b", {"addr", "add", "10.201.0.2/24", "dev", "sb0"}).ok());
    // Both ends are up and paired: a veth has carrier (LOWER_UP) only when its peer is up.
    EXPECT_NE(CommandOutput({"ip", "-n", a, "link", "show", "sa0"}).find("LOWER_UP"),
              std::string::npos);
    EXPECT_NE(
        CommandOutput({"ip", "-n", b, "-o", "addr", "show", "dev", "sb0"}).find("10.201.0.2/24"),
        std::string::npos);
    EXPECT_TRUE(netns.Exec("a", {"true"}).ok());
    pid = netns.Spawn("a", {"/bin/sleep", "60"});
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(Running(pid));
    EXPECT_TRUE(NetnsExists(a));
    EXPECT_TRUE(NetnsExists(b));
  }
  EXPECT_FALSE(NetnsExists(a));
  EXPECT_FALSE(NetnsExists(b));
  EXPECT_FALSE(Running(pid));
}

TEST_F(TestNetnsTest, AFatalSignalStillRemovesNamespacesAndProcesses) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child dies of SIGTERM in the middle of a "test": no destructor runs.
    close(fds[0]);
    TestNetns netns("kpx-support");
    if (!netns.Add("a").ok()) _exit(2);
    const pid_t sleeper = netns.Spawn("a", {"/bin/sleep", "60"});
    const std::string report = netns.Name("a") + " " + std::to_string(sleeper) + "\n";
    if (write(fds[1], report.data(), report.size()) != static_cast<ssize_t>(report.size())) {
      _exit(3);
    }
    close(fds[1]);
    raise(SIGTERM);
    _exit(4);
  }
  close(fds[1]);
  std::string report;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) report.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  const size_t space = report.find(' ');
  ASSERT_NE(space, std::string::npos) << report;
  const std::string name = report.substr(0, space);
  const pid_t sleeper = std::stoi(report.substr(space + 1));
  EXPECT_FALSE(NetnsExists(name)) << name;
  EXPECT_TRUE(StopsRunning(sleeper)) << sleeper;
}

}  // namespace
}  // namespace kpx::testing
