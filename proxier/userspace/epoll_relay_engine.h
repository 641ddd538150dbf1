#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "proxier/userspace/listen_socket.h"
#include "proxier/userspace/relay_engine.h"
#include "proxier/userspace/relay_worker.h"
#include "proxier/userspace/userspace_options.h"

namespace kpx {

// The real RelayEngine: N RelayWorker threads (started on the first Open, so constructing one
// starts nothing). Every frontend costs one descriptor, however many workers and families serve
// it: one socket on a port the kernel picks, bound to the wildcard address; an IPv6 socket that
// also takes IPv4 (IPV6_V6ONLY off) when the host has both families. A TCP listener is in every
// worker's epoll set with EPOLLEXCLUSIVE, so a new connection wakes one worker and a busy
// service port is still served by all of them. A UDP socket belongs to one worker (frontends are
// spread round robin), so every datagram of a session reaches the worker that owns it. A family
// the host cannot open (no IPv6) is logged once and left out.
class EpollRelayEngine : public RelayEngine {
 public:
  explicit EpollRelayEngine(UserspaceOptions options);
  ~EpollRelayEngine() override;

  Result<uint16_t> Open(std::shared_ptr<Frontend> frontend) override;
  void Close(const std::shared_ptr<Frontend>& frontend) override;
  UserspaceCounters Counters() const override;
  // Descriptors left below the soft limit, keeping a quarter of the limit (at most 1024) free.
  DescriptorBudget Budget() const override;

  int worker_count() const { return static_cast<int>(workers_.size()); }

 private:
  Status EnsureStarted();
  Result<std::shared_ptr<ListenSocket>> Bind(Protocol protocol, uint16_t* port);

  UserspaceOptions options_;
  std::vector<std::unique_ptr<RelayWorker>> workers_;
  bool started_ = false;
  std::vector<IpFamily> families_;  // those the host supports
  size_t next_udp_worker_ = 0;
  mutable std::mutex mu_;  // guards workers_ against Counters() from other threads
};

}  // namespace kpx
