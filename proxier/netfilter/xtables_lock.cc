#include "proxier/netfilter/xtables_lock.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

namespace kpx {

namespace {

// IN_OPEN: another iptables run is about to take the lock. IN_CLOSE: one that opened the file
// before our watch existed is done (the kernel queues the close before it drops that process's
// lock). The rest mean the file at the path may no longer be the one we lock and watch: unlink
// shows as IN_ATTRIB (link count) while our descriptor keeps the inode alive.
constexpr uint32_t kMask = IN_OPEN | IN_CLOSE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

// A file replaced again and again while we try to lock it: give up rather than spin.
constexpr int kMaxReplacedRetries = 8;

std::string Errno(int err) { return std::strerror(err); }

std::string Millis(std::chrono::steady_clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

XtablesLock::Guard::Guard(Guard&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), fd_(std::exchange(other.fd_, -1)) {}

XtablesLock::Guard& XtablesLock::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

XtablesLock::Guard::~Guard() { Release(); }

void XtablesLock::Guard::Release() {
  if (owner_ == nullptr) return;
  // Explicitly: closing a dup does not drop the lock while the owner's descriptor still refers to
  // the same open file description.
  flock(fd_, LOCK_UN);
  close(fd_);
  fd_ = -1;
  std::exchange(owner_, nullptr)->ReleaseHeld();
}

std::string XtablesLock::DefaultPath() {
  const char* env = std::getenv("XTABLES_LOCKFILE");
  if (env != nullptr && *env != '\0') return env;
  return "/run/xtables.lock";
}

XtablesLock::XtablesLock(std::string path) : path_(std::move(path)) {
  std::lock_guard<std::mutex> lock(mu_);
  Rearm();
}

XtablesLock::~XtablesLock() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (fd_ >= 0) close(fd_);
}

void XtablesLock::ReleaseHeld() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
  }
  released_.notify_all();
}

bool XtablesLock::FdMatchesPath() const {
  struct stat open_st;
  struct stat path_st;
  if (fstat(fd_, &open_st) != 0 || stat(path_.c_str(), &path_st) != 0) return false;
  return open_st.st_dev == path_st.st_dev && open_st.st_ino == path_st.st_ino;
}

void XtablesLock::CloseWatch() {
  if (watch_ >= 0 && inotify_fd_ >= 0) inotify_rm_watch(inotify_fd_, watch_);
  watch_ = -1;
}

void XtablesLock::DrainEvents() {
  if (inotify_fd_ < 0) return;
  alignas(inotify_event) char buf[4096];
  while (true) {
    const ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN) return;
      if (errno == EINTR) continue;
      // Nothing more can be learnt from this descriptor; Rearm starts a new one.
      LOG(WARNING) << "xtables lock " << path_ << ": inotify read: " << Errno(errno);
      close(inotify_fd_);
      inotify_fd_ = -1;
      watch_ = -1;
      others_ = true;
      rearm_ = true;
      return;
    }
    if (n == 0) return;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Lost events may have included the file's replacement.
        others_ = true;
        rearm_ = true;
        continue;
      }
      // Leftovers of a watch we replaced (its IN_IGNORED, the close of our old descriptor).
      if (ev->wd != watch_) continue;
      others_ = true;
      if (ev->mask & (IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) rearm_ = true;
      if (ev->mask & IN_IGNORED) watch_ = -1;  // the kernel dropped it; nothing to remove
    }
  }
}

void XtablesLock::Rearm() {
  if (!rearm_ && !orphaned_ && fd_ >= 0 && watch_ >= 0) return;
  // Whatever happened while the watch was missing or pointed elsewhere is unknown.
  others_ = true;
  rearm_ = false;
  if (inotify_fd_ < 0) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0 && !warned_) {
      warned_ = true;
      LOG(WARNING) << "xtables lock " << path_ << ": inotify_init1: " << Errno(errno)
                   << "; tables will be re-read before every change";
    }
  }
  int old_fd = -1;
  if (fd_ < 0 || !FdMatchesPath()) {
    // Opened before the watch is added, so that our own open is not reported as someone else's.
    const int fd = open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      open_errno_ = errno;
      CloseWatch();
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
      return;
    }
    old_fd = std::exchange(fd_, fd);
  }
  if (inotify_fd_ >= 0) {
    // Through /proc, the watch lands on the very file fd_ refers to even if the path changed
    // again since the open; the path itself is the fallback where /proc is not mounted.
    const std::string self = "/proc/self/fd/" + std::to_string(fd_);
    int wd = inotify_add_watch(inotify_fd_, self.c_str(), kMask);
    int err = errno;
    if (wd < 0 && err == ENOENT) {
      wd = inotify_add_watch(inotify_fd_, path_.c_str(), kMask);
      err = errno;
      if (wd >= 0 && !FdMatchesPath()) {
        inotify_rm_watch(inotify_fd_, wd);
        wd = -1;
        err = ESTALE;  // replaced again between our open and the watch; the next call retries
        rearm_ = true;
      }
    }
    if (wd < 0 && !warned_) {
      warned_ = true;
      LOG(WARNING) << "xtables lock " << path_ << ": inotify_add_watch: " << Errno(err)
                   << "; tables will be re-read before every change";
    }
    // Adding a watch to the inode already watched returns the same descriptor.
    if (watch_ >= 0 && watch_ != wd) inotify_rm_watch(inotify_fd_, watch_);
    watch_ = wd;
  }
  // After the old watch is gone, so its close event cannot look like someone else's.
  if (old_fd >= 0) close(old_fd);
  // Deleted, yet still what the path leads to: a single-file bind mount (the DaemonSet's) whose
  // host file was removed. iptables on the host now locks a file we cannot reach or watch.
  struct stat st;
  const bool orphaned = fstat(fd_, &st) == 0 && st.st_nlink == 0;
  if (orphaned && !orphaned_) {
    LOG(WARNING) << "xtables lock " << path_
                 << ": the file was deleted but the path still leads to it (a bind mount?); "
                    "other iptables users lock a new file, so tables will be re-read before "
                    "every change";
  }
  orphaned_ = orphaned;
}

bool XtablesLock::Openable() {
  std::lock_guard<std::mutex> lock(mu_);
  DrainEvents();
  Rearm();
  return fd_ >= 0;
}

Result<XtablesLock::Guard> XtablesLock::Acquire(std::chrono::milliseconds wait) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::max(wait, std::chrono::milliseconds(0));
  std::unique_lock<std::mutex> lock(mu_);
  auto backoff = std::chrono::milliseconds(1);
  int replaced = 0;
  while (true) {
    // Another Guard of ours holds it: flock would not stop us (same open file description).
    if (!released_.wait_until(lock, deadline, [this] { return !held_; })) {
      return Status::Error("xtables lock " + path_ +
                           ": held by this process (another XtablesLock guard); gave up after " +
                           Millis(std::chrono::steady_clock::now() - start));
    }
    DrainEvents();
    Rearm();
    if (fd_ < 0) {
      return Status::Error("xtables lock " + path_ + ": cannot open: " + Errno(open_errno_));
    }
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) {
      // Someone replaced the file: iptables now locks the new one, so ours excludes nobody.
      if (!FdMatchesPath()) {
        flock(fd_, LOCK_UN);
        rearm_ = true;
        others_ = true;
        if (++replaced < kMaxReplacedRetries) continue;
        return Status::Error("xtables lock " + path_ +
                             ": the file keeps being replaced while it is being locked");
      }
      const int dup_fd = fcntl(fd_, F_DUPFD_CLOEXEC, 0);
      if (dup_fd < 0) {
        const int err = errno;
        flock(fd_, LOCK_UN);
        return Status::Error("xtables lock " + path_ + ": dup: " + Errno(err));
      }
      held_ = true;
      return Guard(this, dup_fd);
    }
    const int err = errno;
    if (err == EINTR) continue;
    const auto now = std::chrono::steady_clock::now();
    if (err != EWOULDBLOCK) {
      return Status::Error("xtables lock " + path_ + ": flock: " + Errno(err));
    }
    if (now >= deadline) {
      return Status::Error("xtables lock " + path_ + ": held by another process; gave up after " +
                           Millis(now - start) + " (flock: " + Errno(err) + ")");
    }
    // iptables -w blocks in flock and so is woken at the release; polling is the price of a
    // deadline without signals (iptables uses SIGALRM), kept short so we do not lose every race.
    lock.unlock();
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(backoff, deadline - now));
    lock.lock();
    backoff = std::min(backoff * 2, std::chrono::milliseconds(16));
  }
}

bool XtablesLock::OthersMayHaveWrittenSinceLastCall() {
  std::lock_guard<std::mutex> lock(mu_);
  DrainEvents();
  Rearm();
  const bool answer = others_;
  // Without a watch (or watching a file nobody else can open) nothing can be seen, so the next
  // answer must be true again.
  others_ = watch_ < 0 || orphaned_;
  return answer;
}

}  // namespace kpx
