#include "tests/support/private_netns.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace kpx::testing {

namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

ino_t NetnsInode() {
  struct stat st {};
  return stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// The effective capability mask from /proc/self/status ("CapEff:\t<hex>").
uint64_t EffectiveCapabilities() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "CapEff:") {
      std::string hex;
      status >> hex;
      return std::stoull(hex, nullptr, 16);
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

int ThreadCount() {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

Status LoopbackUp() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(Errno("socket"));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  Status result;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    result = Status::Error(Errno("SIOCGIFFLAGS lo"));
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) result = Status::Error(Errno("SIOCSIFFLAGS lo up"));
  }
  close(fd);
  return result;
}

}  // namespace

std::string PrivateNetnsUnavailable() {
  if ((EffectiveCapabilities() & (uint64_t{1} << CAP_SYS_ADMIN)) == 0) {
    return "needs CAP_SYS_ADMIN (root) for a network namespace of its own";
  }
  return "";
}

Status EnterPrivateNetns() {
  if (const int threads = ThreadCount(); threads != 1) {
    return Status::Error("the process has " + std::to_string(threads) +
                         " threads; unshare would move only the calling one into the new network "
                         "namespace, so enter it before any thread starts");
  }
  const ino_t before = NetnsInode();
  if (unshare(CLONE_NEWNET) != 0) return Status::Error(Errno("unshare(CLONE_NEWNET)"));
  if (before == 0 || NetnsInode() == before) {
    return Status::Error("unshare(CLONE_NEWNET) left the process in its old network namespace");
  }
  if (Status s = LoopbackUp(); !s.ok()) {
    return Status::Error("new network namespace: " + s.message());
  }
  return Status::Ok();
}

}  // namespace kpx::testing
