#include "tests/support/private_netns.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/support/sanitizers.h"

namespace kpx::testing {
namespace {

sockaddr_in Address(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

int Listener(const char* ip, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = Address(ip, port);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 4) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

bool Connects(const char* ip, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = Address(ip, port);
  const bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

uint16_t PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Runs `child` in a forked process (single-threaded, as the test binary's main thread would be
// before its tests) and returns its exit code, or -1 if it did not exit normally.
template <typename Fn>
int InChild(Fn child) {
  const pid_t pid = fork();
  if (pid == 0) _exit(child());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

class PrivateNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = PrivateNetnsUnavailable(); !why.empty()) GTEST_SKIP() << why;
#ifdef KPX_TEST_TSAN
    // TSan restarts its background thread in a forked child of a process that had threads, so
    // the child is never single-threaded and is refused; the main and ASan stages run these.
    // (The PRIVATE_NETNS binaries themselves enter their namespace before any thread exists.)
    GTEST_SKIP() << "under TSan a forked child always has TSan's own thread";
#endif
  }
};

// The child takes the very port the parent listens on, on the same address, and talks to itself
// over its own loopback: only a namespace of its own with lo up allows both.
TEST_F(PrivateNetnsTest, LoopbackIsUpAndPortsAreTheProcessOwn) {
  const int held = Listener("127.0.0.1", 0);
  ASSERT_GE(held, 0);
  const uint16_t port = PortOf(held);
  const int code = InChild([port] {
    if (!EnterPrivateNetns().ok()) return 10;
    if (Connects("127.0.0.1", port)) return 11;  // the parent's listener is not visible here
    const int mine = Listener("127.0.0.1", port);
    if (mine < 0) return 12;
    if (!Connects("127.0.0.1", port)) return 13;
    const int other = Listener("127.0.0.11", port);  // all of 127.0.0.0/8 is on lo
    if (other < 0) return 14;
    if (!Connects("127.0.0.11", port)) return 15;
    return 0;
  });
  close(held);
  EXPECT_EQ(code, 0) << "failed step (see the child above)";
}

// Only the calling thread would move: refused while another thread runs.
TEST_F(PrivateNetnsTest, RefusedWhileAnotherThreadRuns) {
  const int code = InChild([] {
    std::mutex m;
    std::condition_variable cv;
    bool started = false, done = false;
    std::thread t([&] {
      std::unique_lock l(m);
      started = true;
      cv.notify_all();
      cv.wait(l, [&] { return done; });
    });
    {
      std::unique_lock l(m);
      cv.wait(l, [&] { return started; });
    }
    const Status s = EnterPrivateNetns();
    {
      std::lock_guard l(m);
      done = true;
    }
    cv.notify_all();
    t.join();
    if (s.ok()) return 20;
    return s.message().find("2 threads") != std::string::npos ? 0 : 21;
  });
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace kpx::testing
