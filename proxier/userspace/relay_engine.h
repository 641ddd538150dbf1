#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/status.h"
#include "proxier/userspace/frontend.h"
#include "proxier/userspace/userspace_counters.h"

namespace kpx {

// How many more frontends the process can listen for without running out of file descriptors,
// and the figures behind it (for the log line that says why some could not be opened).
struct DescriptorBudget {
  size_t frontends = SIZE_MAX;  // more frontends that fit; SIZE_MAX when unbounded
  uint64_t soft_limit = 0;      // RLIMIT_NOFILE in force (kpx raised it to the hard one at start)
  uint64_t hard_limit = 0;
  uint64_t open = 0;     // descriptors open now
  uint64_t reserve = 0;  // kept free for relayed connections, syncs and the API client
};

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
  // Asked before opening new frontends: taking the last descriptors would make every iptables
  // restore, relayed connection and API reconnect fail.
  virtual DescriptorBudget Budget() const = 0;
};

}  // namespace kpx
