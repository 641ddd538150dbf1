#include "k8s-watch/manifest/directory_watcher.h"

#include <glog/logging.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kpx {

namespace {

// Editors save by writing a temporary file and renaming it over the original, so a rename into
// the directory counts as much as a completed write. IN_MODIFY is left out on purpose: it fires
// for every write(2) of a file still being written, and reading it then would see half a file.
// IN_CREATE is watched only to notice symlinks, which have no write to close.
constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                           IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string Errno() { return std::strerror(errno); }

}  // namespace

DirectoryWatcher::~DirectoryWatcher() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

Status DirectoryWatcher::Open(const std::string& directory) {
  if (inotify_fd_ >= 0) return Status::Error("directory watcher already open");
  directory_ = directory;
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return Status::Error("eventfd: " + Errno());
  inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ < 0) return Status::Error("inotify_init1: " + Errno());
  if (inotify_add_watch(inotify_fd_, directory.c_str(), kMask) < 0) {
    return Status::Error("inotify_add_watch " + directory + ": " + Errno());
  }
  return Status::Ok();
}

void DirectoryWatcher::Interrupt() {
  if (stop_fd_ < 0) return;
  const uint64_t one = 1;
  // Only fails if the counter would overflow, which repeated Interrupt calls cannot reach.
  if (write(stop_fd_, &one, sizeof(one)) < 0) PLOG(ERROR) << "eventfd write";
}

bool DirectoryWatcher::Drain(bool* changed, bool* gone) {
  alignas(inotify_event) char buf[16 * 1024];
  while (true) {
    const ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN) return true;
      if (errno == EINTR) continue;
      PLOG(ERROR) << "inotify read on " << directory_;
      return false;
    }
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
        *gone = true;
      } else if (ev->mask & IN_Q_OVERFLOW) {
        *changed = true;  // events were lost; a rescan covers whatever they were
      } else if (ev->mask & IN_CREATE) {
        struct stat st;
        const std::string path = directory_ + "/" + (ev->len > 0 ? ev->name : "");
        if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) *changed = true;
      } else {
        *changed = true;
      }
    }
  }
}

DirectoryWatcher::Event DirectoryWatcher::Wait(std::optional<std::chrono::milliseconds> timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::hours(0));
  while (true) {
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    int wait_ms = -1;
    if (timeout) {
      wait_ms = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                   std::chrono::steady_clock::now())
                 .count()));
    }
    const int n = poll(fds, 2, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      PLOG(ERROR) << "poll on inotify for " << directory_;
      return Event::kError;
    }
    if (n == 0) return Event::kTimeout;
    // The stop request wins over pending changes: Stop must be prompt.
    if (fds[0].revents != 0) return Event::kStopped;
    bool changed = false;
    bool gone = false;
    if (!Drain(&changed, &gone)) return Event::kError;
    if (gone) return Event::kGone;
    if (changed) return Event::kChanged;
  }
}

}  // namespace kpx
