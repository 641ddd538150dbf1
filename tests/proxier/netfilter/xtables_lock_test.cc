// XtablesLock against real files and, in a private network namespace, real iptables-legacy pointed
// at a temporary lock file through XTABLES_LOCKFILE (never the host's /run/xtables.lock): iptables
// waits while we hold the lock, and its runs, the file's replacement and lost events all set the
// "others may have written" signal while our own lock cycles do not. No assertion depends on
// timing; waits have generous deadlines only so that a bug cannot hang the test.
#include "proxier/netfilter/xtables_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proxier/netfilter/subprocess_executor.h"
#include "tests/support/in_netns.h"
#include "tests/support/netns.h"
#include "tests/support/temp_dir.h"

namespace kpx {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls `done` until it holds or `limit` passes; the limit only keeps a bug from hanging the test.
bool WaitFor(const std::function<bool()>& done, seconds limit = seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// The exit code of `pid` once it has exited, without reaping it (TestNetns reaps what it spawned,
// so its kill at teardown can only hit our own zombie, never a recycled pid).
std::optional<int> ExitCode(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid == 0) {
    return std::nullopt;
  }
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

// Whether `pid` runs `program` and has `path` open: iptables opens the file before it asks for the
// lock. (Checking the program too: between fork and exec the child holds copies of our own
// descriptors, the lock file's among them.)
bool RunsWithOpen(pid_t pid, const std::string& program, const std::string& path) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::error_code ec;
  if (!std::filesystem::equivalent(proc + "/exe", program, ec)) return false;
  for (const auto& e : std::filesystem::directory_iterator(proc + "/fd", ec)) {
    std::error_code same_ec;
    if (std::filesystem::equivalent(e.path(), path, same_ec)) return true;
  }
  return false;
}

// Plain files: no iptables, no namespace, no root needed.
class XtablesLockFileTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  const std::string path_ = dir_.File("xtables.lock");
};

TEST_F(XtablesLockFileTest, DefaultPathIsXtablesLockfileWhenSetAndNotEmpty) {
  const char* saved = std::getenv("XTABLES_LOCKFILE");
  const std::optional<std::string> before =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  unsetenv("XTABLES_LOCKFILE");
  EXPECT_EQ(XtablesLock::DefaultPath(), "/run/xtables.lock");
  setenv("XTABLES_LOCKFILE", "", 1);
  EXPECT_EQ(XtablesLock::DefaultPath(), "/run/xtables.lock");
  setenv("XTABLES_LOCKFILE", path_.c_str(), 1);
  EXPECT_EQ(XtablesLock::DefaultPath(), path_);
  if (before) {
    setenv("XTABLES_LOCKFILE", before->c_str(), 1);
  } else {
    unsetenv("XTABLES_LOCKFILE");
  }
}

TEST_F(XtablesLockFileTest, CreatesTheFileOwnerOnlyAsIptablesDoes) {
  XtablesLock lock(path_);
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(XtablesLockFileTest, AnotherHolderMakesAcquireFailWithTheReasonUntilReleased) {
  XtablesLock ours(path_);
  XtablesLock theirs(path_);  // its own open file description, as another process has
  auto held = theirs.Acquire(seconds(10));
  ASSERT_TRUE(held.ok()) << held.status().message();

  auto r = ours.Acquire(milliseconds(50));
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find(path_), std::string::npos) << msg;
  EXPECT_NE(msg.find("held by another process"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gave up after"), std::string::npos) << msg;
  EXPECT_NE(msg.find(" ms"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::strerror(EWOULDBLOCK)), std::string::npos) << msg;
  EXPECT_FALSE(ours.Acquire(milliseconds(0)).ok());

  held->Release();
  EXPECT_FALSE(held->held());
  auto mine = ours.Acquire(seconds(10));
  ASSERT_TRUE(mine.ok()) << mine.status().message();
  EXPECT_TRUE(mine->held());
  // And now the other one is shut out.
  EXPECT_FALSE(theirs.Acquire(milliseconds(0)).ok());
}

TEST_F(XtablesLockFileTest, OneObjectHasOneHolderAtATimeAndGuardsMove) {
  XtablesLock lock(path_);
  auto first = lock.Acquire(seconds(10));
  ASSERT_TRUE(first.ok()) << first.status().message();
  // flock on the same descriptor would say yes; the object must not.
  auto second = lock.Acquire(milliseconds(20));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("held by this process"), std::string::npos)
      << second.status().message();

  std::optional<XtablesLock::Guard> moved(std::move(first).value());
  EXPECT_TRUE(moved->held());
  EXPECT_FALSE(lock.Acquire(milliseconds(0)).ok());
  moved.reset();  // the destructor unlocks

  // A holder on another thread is waited for, and it may release from there.
  auto again = lock.Acquire(seconds(10));
  ASSERT_TRUE(again.ok()) << again.status().message();
  std::thread releaser([g = std::move(again).value()]() mutable { g.Release(); });
  auto after = lock.Acquire(seconds(60));
  releaser.join();
  ASSERT_TRUE(after.ok()) << after.status().message();
  XtablesLock other(path_);
  EXPECT_FALSE(other.Acquire(milliseconds(0)).ok());
}

// Threads sharing one object and threads of a second object (standing in for another process)
// never hold the lock at once.
TEST_F(XtablesLockFileTest, HoldersNeverOverlapAcrossThreadsAndObjects) {
  XtablesLock a(path_);
  XtablesLock b(path_);
  std::atomic<bool> inside{false};
  std::atomic<int> overlaps{0};
  std::atomic<int> failures{0};
  auto work = [&](XtablesLock* lock) {
    for (int i = 0; i < 50; ++i) {
      auto g = lock->Acquire(seconds(60));
      if (!g.ok()) {
        ++failures;
        continue;
      }
      if (inside.exchange(true)) ++overlaps;
      std::this_thread::yield();
      inside = false;
    }
  };
  std::vector<std::thread> threads;
  for (XtablesLock* lock : {&a, &a, &b, &b}) threads.emplace_back(work, lock);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(overlaps, 0);
}

TEST_F(XtablesLockFileTest, OurOwnLockCyclesDoNotSetTheSignal) {
  XtablesLock lock(path_);
  // Nothing is known about the time before the watch existed.
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  for (int i = 0; i < 5; ++i) {
    auto g = lock.Acquire(seconds(10));
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  }
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  // Touching the file from elsewhere does.
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  close(fd);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());  // the close
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
}

// A writer that opened the file before our watch existed is seen when it closes it, which the
// kernel reports before that close drops its lock: by the time we hold the lock, we know.
TEST_F(XtablesLockFileTest, AHolderFromBeforeTheWatchIsSeenWhenItCloses) {
  const int early = open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(early, 0);
  ASSERT_EQ(flock(early, LOCK_EX), 0);
  XtablesLock lock(path_);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.Acquire(milliseconds(0)).ok());
  close(early);  // releases by closing, as every iptables process does
  auto g = lock.Acquire(seconds(10));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
}

TEST_F(XtablesLockFileTest, ReplacedFileIsReportedAndTheNewOneLockedAndWatched) {
  XtablesLock lock(path_);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());

  // Deleted: reported, and the file is there again (created as iptables would).
  ASSERT_EQ(unlink(path_.c_str()), 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_EQ(access(path_.c_str(), F_OK), 0);
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());

  // Deleted and made again by someone else before we look.
  ASSERT_EQ(unlink(path_.c_str()), 0);
  fd = open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  {
    auto g = lock.Acquire(seconds(10));
    ASSERT_TRUE(g.ok()) << g.status().message();
    // Ours is the lock on the file now at the path, the one everyone else opens.
    const int other = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(other, 0);
    EXPECT_NE(flock(other, LOCK_EX | LOCK_NB), 0);
    close(other);
  }
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());

  // Renamed over, as an atomic write would.
  dir_.WriteAtomically("xtables.lock", "");
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());

  // Replaced without the signal being asked: Acquire itself notices and locks the new file.
  ASSERT_EQ(unlink(path_.c_str()), 0);
  fd = open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  {
    auto g = lock.Acquire(seconds(10));
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_NE(flock(fd, LOCK_EX | LOCK_NB), 0);
  }
  close(fd);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
}

// As in the DaemonSet, where the path is a bind mount of the host's file: once that file is
// deleted, the path still leads to it while everyone else creates and locks a new one. Here the
// path is /proc/self/fd/N of a deleted file, which behaves the same.
TEST_F(XtablesLockFileTest, DeletedFileThePathStillLeadsToAnswersTrueForGood) {
  const int keep = open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(keep, 0);
  const std::string pinned = "/proc/self/fd/" + std::to_string(keep);
  XtablesLock lock(pinned);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  ASSERT_EQ(unlink(path_.c_str()), 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  {
    auto g = lock.Acquire(seconds(10));  // still a lock, if on a file only we can reach
    EXPECT_TRUE(g.ok()) << g.status().message();
  }
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  close(keep);
}

TEST_F(XtablesLockFileTest, LostEventsAnswerTrueAndTheWatchGoesOn) {
  std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
  long max_events = 0;
  if (!(in >> max_events) || max_events <= 0 || max_events > 1'000'000) {
    GTEST_SKIP() << "inotify queue limit unknown or too large to fill";
  }
  XtablesLock lock(path_);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  // Each open and close queues two events.
  for (long i = 0; i < max_events / 2 + 100; ++i) {
    const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
}

TEST_F(XtablesLockFileTest, MissingDirectoryIsAnErrorAndTheSignalStaysTrue) {
  const std::string path = dir_.File("no-such-dir/xtables.lock");
  XtablesLock lock(path);
  auto r = lock.Acquire(milliseconds(10));
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::strerror(ENOENT)), std::string::npos) << msg;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());

  // Once the directory exists, the lock works and the watch starts.
  ASSERT_TRUE(std::filesystem::create_directory(dir_.File("no-such-dir")));
  auto g = lock.Acquire(seconds(10));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
}

// Real iptables-legacy in a private network namespace.
class XtablesLockIptablesTest : public XtablesLockFileTest {
 protected:
  void SetUp() override {
    if (const std::string why = testing::TestNetns::Unavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    if (access(kIptables, X_OK) != 0) GTEST_SKIP() << "iptables-legacy missing";
    if (access(kEnv, X_OK) != 0) GTEST_SKIP() << "env missing";
    netns_ = std::make_unique<testing::TestNetns>("kpx-xtl");
    ASSERT_TRUE(netns_->Add("node").ok());
  }
  // iptables-legacy with our lock file (the calling thread must be in the namespace).
  CommandOutput Iptables(const std::vector<std::string>& args) const {
    auto r = SubprocessExecutor().Run(Argv(args), "");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : CommandOutput{-1, "", r.status().message()};
  }
  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kEnv, "XTABLES_LOCKFILE=" + path_, kIptables};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  static std::string Save() {
    auto r = SubprocessExecutor().Run({"iptables-legacy-save", "-t", "filter"}, "");
    return r.ok() ? r->out : "";
  }
  static constexpr const char* kIptables = "/usr/sbin/iptables-legacy";
  static constexpr const char* kEnv = "/usr/bin/env";
  std::unique_ptr<testing::TestNetns> netns_;
};

TEST_F(XtablesLockIptablesTest, IptablesWaitsWhileWeHoldIt) {
  testing::InNetns in(netns_->Name("node"));
  XtablesLock lock(path_);
  auto guard = lock.Acquire(seconds(10));
  ASSERT_TRUE(guard.ok()) << guard.status().message();

  // Its own deadline passes: exit 4 and the reason. (Without -w, iptables 1.8.9 waits forever.)
  const CommandOutput refused =
      Iptables({"-w", "1", "-A", "INPUT", "-s", "10.1.1.1", "-j", "ACCEPT"});
  EXPECT_EQ(refused.exit_code, 4) << refused.err;
  EXPECT_NE(refused.err.find("holding the xtables lock"), std::string::npos) << refused.err;
  EXPECT_EQ(Save().find("10.1.1.1"), std::string::npos);

  // Waiting longer, it gets through only once we let go.
  (void)lock.OthersMayHaveWrittenSinceLastCall();
  const pid_t pid =
      netns_->Spawn("node", Argv({"-w", "60", "-A", "INPUT", "-s", "10.2.2.2", "-j", "ACCEPT"}));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return lock.OthersMayHaveWrittenSinceLastCall(); }));
  ASSERT_TRUE(WaitFor([&] { return RunsWithOpen(pid, kIptables, path_) || ExitCode(pid); }));
  EXPECT_EQ(ExitCode(pid), std::nullopt) << "iptables finished while we held the lock";
  EXPECT_EQ(Save().find("10.2.2.2"), std::string::npos);

  guard->Release();
  ASSERT_TRUE(WaitFor([&] { return ExitCode(pid).has_value(); }));
  EXPECT_EQ(ExitCode(pid), 0);
  EXPECT_NE(Save().find("-A INPUT -s 10.2.2.2/32 -j ACCEPT"), std::string::npos) << Save();
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
}

TEST_F(XtablesLockIptablesTest, IptablesRunsSetTheSignalAndReadingClearsIt) {
  testing::InNetns in(netns_->Name("node"));
  XtablesLock lock(path_);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());

  ASSERT_EQ(Iptables({"-L", "-n"}).exit_code, 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  {
    auto g = lock.Acquire(seconds(10));
    ASSERT_TRUE(g.ok()) << g.status().message();
  }
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  ASSERT_EQ(Iptables({"-A", "INPUT", "-s", "10.3.3.3", "-j", "ACCEPT"}).exit_code, 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());

  // Lock file deleted: reported; iptables and we meet on the new file, and its opens are seen.
  ASSERT_EQ(unlink(path_.c_str()), 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  ASSERT_EQ(Iptables({"-L", "-n"}).exit_code, 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());

  // Deleted and recreated by iptables itself before we look.
  ASSERT_EQ(unlink(path_.c_str()), 0);
  ASSERT_EQ(Iptables({"-L", "-n"}).exit_code, 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  ASSERT_EQ(Iptables({"-A", "INPUT", "-s", "10.4.4.4", "-j", "ACCEPT"}).exit_code, 0);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  auto g = lock.Acquire(seconds(10));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(Iptables({"-w", "1", "-L", "-n"}).exit_code, 4);
}

// iptables that opened the file before our watch existed, blocked behind another holder: its
// write is reported by the time we get the lock after it.
TEST_F(XtablesLockIptablesTest, IptablesThatOpenedBeforeTheWatchIsSeenWhenDone) {
  testing::InNetns in(netns_->Name("node"));
  XtablesLock other(path_);
  auto held = other.Acquire(seconds(10));
  ASSERT_TRUE(held.ok()) << held.status().message();
  const pid_t pid =
      netns_->Spawn("node", Argv({"-w", "60", "-A", "INPUT", "-s", "10.5.5.5", "-j", "ACCEPT"}));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return RunsWithOpen(pid, kIptables, path_) || ExitCode(pid); }));
  ASSERT_EQ(ExitCode(pid), std::nullopt);

  XtablesLock lock(path_);
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_FALSE(lock.OthersMayHaveWrittenSinceLastCall());
  held->Release();
  ASSERT_TRUE(WaitFor([&] { return ExitCode(pid).has_value(); }));
  EXPECT_EQ(ExitCode(pid), 0);
  auto g = lock.Acquire(seconds(10));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_TRUE(lock.OthersMayHaveWrittenSinceLastCall());
  EXPECT_NE(Save().find("10.5.5.5"), std::string::npos);
}

}  // namespace
}  // namespace kpx
