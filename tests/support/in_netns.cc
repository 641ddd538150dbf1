#include "tests/support/in_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace kpx::testing {

namespace {

ino_t Inode(int fd) {
  struct stat st {};
  fstat(fd, &st);
  return st.st_ino;
}

}  // namespace

InNetns::InNetns(const std::string& name) {
  original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (original_ < 0 || target < 0) std::abort();
  const ino_t host = Inode(original_);
  if (setns(target, CLONE_NEWNET) != 0) std::abort();
  close(target);
  const int now = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const bool moved = now >= 0 && Inode(now) != host;
  if (now >= 0) close(now);
  if (!moved) std::abort();
}

InNetns::~InNetns() {
  if (setns(original_, CLONE_NEWNET) != 0) std::abort();
  close(original_);
}

}  // namespace kpx::testing
