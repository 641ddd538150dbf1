#pragma once

#include <string>

#include "base/status.h"

namespace kpx {

// Ensures one kpx per node. Held as an abstract unix socket, whose names are scoped to the
// network namespace: exactly the scope of the rules kpx owns, so two kpx in one namespace
// conflict while kpx instances in separate test namespaces do not. The kernel releases it when
// the process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
class InstanceLock {
 public:
  explicit InstanceLock(std::string name = "kpx.lock") : name_(std::move(name)) {}
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  Status Acquire();

 private:
  std::string name_;
  int fd_ = -1;
};

}  // namespace kpx
