#pragma once

#include <cstdint>
#include <memory>

#include "base/status.h"
#include "proxier/userspace/frontend.h"
#include "proxier/userspace/userspace_counters.h"

namespace kpx {

// The seam between the userspace dataplane and the sockets that move traffic. Implementations:
// EpollRelayEngine (epoll workers, splice) and a fake in tests that only records. Called from
// the sync thread only.
class RelayEngine {
 public:
  virtual ~RelayEngine() = default;
  // Listens for `frontend` in every family the engine serves, on one free port it picks, and
  // starts serving it. Returns the port.
  virtual Result<uint16_t> Open(std::shared_ptr<Frontend> frontend) = 0;
  // Stops listening for `frontend`: established TCP connections go on, UDP sessions end.
  virtual void Close(const std::shared_ptr<Frontend>& frontend) = 0;
  // Relay figures (the dataplane fills in its own).
  virtual UserspaceCounters Counters() const = 0;
};

}  // namespace kpx
