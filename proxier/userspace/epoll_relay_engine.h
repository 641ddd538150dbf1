#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "proxier/userspace/relay_engine.h"
#include "proxier/userspace/relay_worker.h"
#include "proxier/userspace/userspace_options.h"

namespace kpx {

// The real RelayEngine: N RelayWorker threads (started on the first Open, so constructing one
// starts nothing). A TCP frontend gets, per family, one SO_REUSEPORT listener per worker on the
// same port: the kernel spreads new connections over the workers' accept queues, so workers never
// contend on accept. A UDP frontend gets one socket per family on one worker (frontends are
// spread round robin), so every datagram of a session reaches the worker that owns it.
// Listeners bind the wildcard address (0.0.0.0, and :: with IPV6_V6ONLY) on a port the kernel
// picks; a family the host cannot open (no IPv6) is logged once and left out.
class EpollRelayEngine : public RelayEngine {
 public:
  explicit EpollRelayEngine(UserspaceOptions options);
  ~EpollRelayEngine() override;

  Result<uint16_t> Open(std::shared_ptr<Frontend> frontend) override;
  void Close(const std::shared_ptr<Frontend>& frontend) override;
  UserspaceCounters Counters() const override;

  int worker_count() const { return static_cast<int>(workers_.size()); }

 private:
  struct Bound {
    int fd;
    IpFamily family;
    int worker;
  };
  Status EnsureStarted();
  // One attempt at a full set of sockets on one port; EADDRINUSE from a later family means the
  // kernel's pick was free in one family only, and the caller tries again.
  Result<std::vector<Bound>> BindAll(Protocol protocol, int udp_worker, uint16_t* port);

  UserspaceOptions options_;
  std::vector<std::unique_ptr<RelayWorker>> workers_;
  bool started_ = false;
  std::vector<IpFamily> families_;                            // those the host supports
  std::set<uint16_t> ports_in_use_[2];                        // by protocol: TCP, UDP
  std::map<const Frontend*, std::pair<int, uint16_t>> open_;  // protocol index, port
  size_t next_udp_worker_ = 0;
  mutable std::mutex mu_;  // guards workers_ against Counters() from other threads
};

}  // namespace kpx
