#include "cmd/instance_lock.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

namespace kpx {
namespace {

std::string UniqueName() { return "kpx-lock-test-" + std::to_string(getpid()); }

// A private directory for the file locks (kpx's own is /run).
class LockDir {
 public:
  LockDir() {
    char t[] = "/tmp/kpx-lock-dir-XXXXXX";
    path_ = mkdtemp(t) != nullptr ? t : "/tmp";
  }
  ~LockDir() {
    if (path_ != "/tmp") std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(InstanceLockTest, SecondHolderIsRefusedUntilTheFirstLetsGo) {
  const std::string name = UniqueName();
  LockDir dir;
  {
    InstanceLock first(name, dir.path());
    ASSERT_TRUE(first.Acquire().ok());
    InstanceLock second(name, dir.path());
    const Status st = second.Acquire();
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.message(), "another kpx is already running in this network namespace");
  }
  InstanceLock again(name, dir.path());
  EXPECT_TRUE(again.Acquire().ok());
}

// Forks a process that takes the lock, runs `also` in it once it holds the lock, and waits to be
// killed. Returns its pid once it holds the lock, or -1 (nothing is left running then).
pid_t ForkHolder(const std::string& name, const std::string& dir,
                 const std::function<void()>& also = {}) {
  int ready[2];
  if (pipe(ready) != 0) return -1;
  const pid_t child = fork();
  if (child == 0) {
    InstanceLock lock(name, dir);
    const bool ok = lock.Acquire().ok();
    if (ok && also) also();
    const char c = ok ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  const bool held = child > 0 && read(ready[0], &c, 1) == 1 && c == 'y';
  close(ready[0]);
  close(ready[1]);
  if (child > 0 && !held) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  return held ? child : -1;
}

TEST(InstanceLockTest, KilledHolderLeavesNoStaleLock) {
  const std::string name = UniqueName() + "-kill";
  LockDir dir;
  const pid_t holder = ForkHolder(name, dir.path());
  ASSERT_GT(holder, 0);
  InstanceLock contender(name, dir.path());
  EXPECT_FALSE(contender.Acquire().ok());
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  EXPECT_TRUE(contender.Acquire().ok());
}

// kpx_faults found it: a kpx killed while a child it spawned had not yet exec'd leaves its
// descriptors, and so the lock, with that child until it execs or exits. The successor,
// restarted at once, waits for that instead of exiting with "another kpx is running".
TEST(InstanceLockTest, LockLeftWithAChildOfAKilledHolderIsAwaited) {
  const std::string name = UniqueName() + "-child";
  LockDir dir;
  int release[2];
  ASSERT_EQ(pipe(release), 0);
  // The holder's child stands for a spawned child between fork and exec: it shares every
  // descriptor, until the test lets it exit.
  const pid_t holder = ForkHolder(name, dir.path(), [&] {
    if (fork() == 0) {
      close(release[1]);  // so that the test's exit alone also ends it
      char r;
      (void)!read(release[0], &r, 1);
      _exit(0);
    }
  });
  ASSERT_GT(holder, 0);
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  InstanceLock impatient(name, dir.path());
  EXPECT_EQ(impatient.Acquire().message(),
            "another kpx is already running in this network namespace")
      << "the child still holds the lock";
  // The child exits while the successor waits.
  std::thread let_go([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (void)!write(release[1], "x", 1);
  });
  InstanceLock successor(name, dir.path());
  EXPECT_TRUE(successor.Acquire(std::chrono::seconds(60)).ok());
  let_go.join();
  for (int fd : release) close(fd);
}

// Issue 17 item 5: any unprivileged process in the node's network namespace could bind the lock's
// abstract name first and so keep kpx (and --cleanup) from starting. A holder that is not root is
// not kpx: kpx then relies on a root-only file lock instead, which still keeps two kpx apart.
TEST(InstanceLockTest, UnprivilegedSquatterDoesNotStopKpx) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  const std::string name = UniqueName() + "-squat";
  char dir_template[] = "/tmp/kpx-lock-dir-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t squatter = fork();
  ASSERT_GE(squatter, 0);
  if (squatter == 0) {
    // nobody, binding the name the way kpx does (and listening, to look like it).
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(1);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    const char c =
        bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 && listen(fd, 1) == 0 ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  {
    InstanceLock first(name, dir);
    const Status st = first.Acquire();
    EXPECT_TRUE(st.ok()) << st.message();
    // The fallback still keeps a second kpx out.
    InstanceLock second(name, dir);
    const Status refused = second.Acquire();
    EXPECT_FALSE(refused.ok());
    EXPECT_EQ(refused.message(), "another kpx is already running in this network namespace");
  }
  kill(squatter, SIGKILL);
  waitpid(squatter, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  std::filesystem::remove_all(dir);
}

// A /run kpx cannot write (a read-only root file system) must not keep kpx from starting: the
// abstract lock alone then holds.
TEST(InstanceLockTest, UnwritableFallbackDirectoryStillLocks) {
  const std::string name = UniqueName() + "-nodir";
  InstanceLock first(name, "/nonexistent-kpx-lock-dir");
  ASSERT_TRUE(first.Acquire().ok());
  InstanceLock second(name, "/nonexistent-kpx-lock-dir");
  EXPECT_FALSE(second.Acquire().ok());
}

// The fallback lock file must not follow a symlink planted where it will be created.
TEST(InstanceLockTest, FallbackLockFileFollowsNoSymlink) {
  char dir_template[] = "/tmp/kpx-lock-dir-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string name = UniqueName() + "-link";
  const std::string target = dir + "/target";
  InstanceLock probe(name, dir);
  ASSERT_EQ(symlink(target.c_str(), probe.FallbackPath().c_str()), 0);
  const Status st = probe.AcquireFallback();
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(std::filesystem::exists(target));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kpx
