#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/ip_address.h"
#include "proxier/userspace/backend.h"
#include "proxier/userspace/frontend.h"
#include "proxier/userspace/pipe_pool.h"
#include "proxier/userspace/relay_context.h"

namespace kpx {

// One proxied TCP connection: the accepted client socket, a non-blocking connect to an endpoint
// (retried on the next endpoint after a failure or timeout, within a bound), then both
// directions relayed with splice(2) through a pipe each, so payload never enters user memory.
//  - Both sockets are registered once, edge-triggered for in, out and peer-hangup; any event
//    pumps both directions until neither moves, so no epoll_ctl is needed per event.
//  - Backpressure: a direction reads from its source only while its pipe has room, and writes
//    only until the destination says EAGAIN; EPOLLOUT then resumes it. Memory per connection is
//    bounded by the two pipes.
//  - Half-close: a source's EOF becomes shutdown(SHUT_WR) on the destination once the pipe is
//    drained; the connection ends when both directions have done so.
//  - A reset or error on either side resets the other (SO_LINGER 0), so the peer learns the
//    stream was cut rather than seeing a clean end.
// Owned and driven by one RelayWorker thread; holds the frontend alive and one slot of its
// connection limit until destroyed.
class TcpRelay {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class State { kConnecting, kEstablished, kDone };

  TcpRelay(RelayContext ctx, int client_fd, std::shared_ptr<Frontend> frontend, IpFamily family,
           IpAddress client_ip);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  // Registers the client socket and starts connecting. May finish the relay at once (no
  // endpoint, every connect refused synchronously).
  void Start(TimePoint now);
  void OnClientEvent(uint32_t events, TimePoint now);
  void OnBackendEvent(uint32_t events, TimePoint now);
  // Connect timeout and idle timeout.
  void CheckTimers(TimePoint now);
  // Pumps again after a yield (see wants_more).
  void Resume(TimePoint now) {
    if (state_ == State::kEstablished) PumpBoth(now);
  }

  State state() const { return state_; }
  bool done() const { return state_ == State::kDone; }
  // The last pump stopped to let other connections run with data still waiting; the worker
  // must pump again without waiting for an event.
  bool wants_more() const { return wants_more_; }
  // Set by the worker while the relay sits in its ready queue.
  bool queued = false;

 private:
  struct Direction {
    SplicePipe pipe;
    bool src_eof = false;
    bool dst_shut = false;
    // Edge-triggered readiness as last reported or observed: a side is tried only while it may
    // make progress, so an event costs no splice that is bound to return EAGAIN.
    bool src_ready = true;
    bool dst_ready = true;
  };
  enum class PumpResult { kIdle, kMoved, kYield, kError };

  void ConnectNext(TimePoint now);
  void OnConnected(TimePoint now);
  void PumpBoth(TimePoint now);
  PumpResult Pump(Direction& d, int src, int dst, uint64_t& moved);
  // Ends the relay: closes both sockets, with a reset when `reset`.
  void Finish(bool reset);
  void CloseBackend(bool reset);

  RelayContext ctx_;
  int client_fd_;
  int backend_fd_ = -1;
  std::shared_ptr<Frontend> frontend_;
  IpFamily family_;
  IpAddress client_ip_;
  State state_ = State::kConnecting;
  std::vector<Backend> tried_;
  Backend backend_;
  TimePoint connect_deadline_{};
  TimePoint last_activity_{};
  Direction up_;    // client -> backend
  Direction down_;  // backend -> client
  bool wants_more_ = false;
  EpollTag client_tag_;
  EpollTag backend_tag_;
};

}  // namespace kpx
