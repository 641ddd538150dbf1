#include "cmd/instance_lock.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace kpx {

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) close(fd_);
}

Status InstanceLock::Acquire() {
  if (fd_ >= 0) return Status::Ok();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("lock socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // sun_path[0] == 0 selects the abstract namespace; the name follows.
  const size_t n = std::min(name_.size(), sizeof(addr.sun_path) - 1);
  std::memcpy(addr.sun_path + 1, name_.data(), n);
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int err = errno;
    close(fd);
    if (err == EADDRINUSE) {
      return Status::Error("another kpx is already running in this network namespace");
    }
    return Status::Error(std::string("lock: ") + std::strerror(err));
  }
  fd_ = fd;
  return Status::Ok();
}

}  // namespace kpx
