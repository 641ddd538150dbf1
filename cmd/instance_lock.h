#pragma once

#include <chrono>
#include <string>

#include "base/status.h"

namespace kpx {

// Ensures one kpx per network namespace, the scope of the rules kpx owns: two kpx in one namespace
// conflict while kpx instances in separate test namespaces do not. Two locks, both released by the
// kernel when the process dies (even by SIGKILL), so a crash never leaves a stale lock:
//  - an abstract unix socket (@kpx.lock), scoped to the network namespace and so shared by
//    containers on the host network whatever their mounts;
//  - a root-only file lock, `fallback_dir`/kpx.lock.<network namespace inode> (0600, opened with
//    O_NOFOLLOW), which an unprivileged process cannot take.
// Any process in the namespace can bind the abstract name first. When its holder is not root (it
// is then not kpx), or cannot be asked, the file lock alone decides, so a squatter can no longer
// keep kpx or `kpx --cleanup` from starting (issue 17).
class InstanceLock {
 public:
  explicit InstanceLock(std::string name = "kpx.lock", std::string fallback_dir = "/run")
      : name_(std::move(name)), dir_(std::move(fallback_dir)) {}
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  // Waits up to `patience` for a holder to let go. A kpx killed while a child it spawned had
  // not yet exec'd leaves the lock with that child for a moment (the descriptors close at exec):
  // its successor, restarted at once, must not give up on it.
  Status Acquire(std::chrono::milliseconds patience = std::chrono::milliseconds(0));

  // The file lock on its own (Acquire takes it too); exposed for tests.
  Status AcquireFallback();
  std::string FallbackPath() const;

 private:
  Status TryAcquire();

  std::string name_;
  std::string dir_;
  int socket_fd_ = -1;
  int file_fd_ = -1;
};

}  // namespace kpx
