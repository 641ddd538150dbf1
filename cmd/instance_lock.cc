#include "cmd/instance_lock.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

namespace kpx {

namespace {

constexpr char kRunning[] = "another kpx is already running in this network namespace";

socklen_t AbstractAddress(const std::string& name, sockaddr_un* addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  // sun_path[0] == 0 selects the abstract namespace; the name follows.
  const size_t n = std::min(name.size(), sizeof(addr->sun_path) - 1);
  std::memcpy(addr->sun_path + 1, name.data(), n);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

// Who holds the abstract name: 1 root (kpx runs as root), 0 someone else, -1 cannot tell (the
// holder does not listen, or its queue is full).
int HolderIsRoot(const sockaddr_un& addr, socklen_t len, ucred* cred) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int result = -1;
  socklen_t cred_len = sizeof(*cred);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0 &&
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &cred_len) == 0) {
    result = cred->uid == 0 ? 1 : 0;
  }
  close(fd);
  return result;
}

}  // namespace

InstanceLock::~InstanceLock() {
  if (socket_fd_ >= 0) close(socket_fd_);
  if (file_fd_ >= 0) close(file_fd_);
}

std::string InstanceLock::FallbackPath() const {
  struct stat ns {};
  const unsigned long inode =
      stat("/proc/self/ns/net", &ns) == 0 ? static_cast<unsigned long>(ns.st_ino) : 0;
  return dir_ + "/" + name_ + "." + std::to_string(inode);
}

Status InstanceLock::AcquireFallback() {
  if (file_fd_ >= 0) return Status::Ok();
  const std::string path = FallbackPath();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("lock file " + path + ": " + std::strerror(errno));
  struct stat st {};
  // Someone else's file (planted before kpx first ran) is not a lock kpx can trust.
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 0077) != 0) {
    close(fd);
    return Status::Error("lock file " + path +
                         " is not a regular file of kpx's user with mode 0600");
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) return Status::Error(kRunning);
    return Status::Error("lock file " + path + ": " + std::strerror(err));
  }
  file_fd_ = fd;
  return Status::Ok();
}

Status InstanceLock::Acquire(std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  bool told = false;
  while (true) {
    Status st = TryAcquire();
    if (st.ok() || st.message() != kRunning || std::chrono::steady_clock::now() >= deadline) {
      return st;
    }
    if (!told) {
      LOG(WARNING) << "instance lock @" << name_ << " is held; waiting up to " << patience.count()
                   << " ms for its holder to exit";
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status InstanceLock::TryAcquire() {
  if (socket_fd_ >= 0 || file_fd_ >= 0) return Status::Ok();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("lock socket: ") + std::strerror(errno));
  sockaddr_un addr;
  const socklen_t len = AbstractAddress(name_, &addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
    // Listening lets a later kpx ask who holds the name (SO_PEERCRED); nothing is accepted.
    listen(fd, SOMAXCONN);
    socket_fd_ = fd;
    if (Status st = AcquireFallback(); !st.ok()) {
      if (st.message() == kRunning) {
        close(socket_fd_);
        socket_fd_ = -1;
        return st;
      }
      // A read-only /run, say: the abstract lock alone still holds.
      LOG(WARNING) << "instance lock: " << st.message() << "; relying on @" << name_ << " alone";
    }
    return Status::Ok();
  }
  const int err = errno;
  close(fd);
  if (err != EADDRINUSE) return Status::Error(std::string("lock: ") + std::strerror(err));
  ucred cred{};
  const int root = HolderIsRoot(addr, len, &cred);
  if (root == 1) return Status::Error(kRunning);
  // Not kpx (or not answering): the root-only file lock decides.
  Status st = AcquireFallback();
  if (st.ok()) {
    LOG(WARNING) << "the instance lock @" << name_ << " is held by "
                 << (root == 0 ? "pid " + std::to_string(cred.pid) + " uid " +
                                     std::to_string(cred.uid) + ", which is not kpx"
                               : std::string("a process that does not answer"))
                 << "; kpx holds the file lock " << FallbackPath() << " instead";
  }
  return st;
}

}  // namespace kpx
