#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "proxier/userspace/frontend.h"
#include "proxier/userspace/listen_socket.h"
#include "proxier/userspace/pipe_pool.h"
#include "proxier/userspace/relay_context.h"
#include "proxier/userspace/relay_stats.h"
#include "proxier/userspace/tcp_relay.h"
#include "proxier/userspace/udp_session.h"
#include "proxier/userspace/userspace_options.h"

namespace kpx {

// One event-loop thread: its own epoll set, listening sockets, TCP relays, UDP sessions and
// pipe pool. Nothing in it is shared with other workers except the frontends (thread-safe) and
// its stats (atomics). Other threads talk to it only through AddListener/RemoveListeners, which
// queue a command and wake it through an eventfd.
class RelayWorker {
 public:
  RelayWorker(int index, const UserspaceOptions& options);
  ~RelayWorker();  // stops the thread, closes every socket
  RelayWorker(const RelayWorker&) = delete;
  RelayWorker& operator=(const RelayWorker&) = delete;

  Status Start();
  void Stop();

  // Thread-safe. The worker serves `socket`, bound and non-blocking (listening, for TCP), for
  // `frontend`. A TCP socket may be served by several workers at once (EPOLLEXCLUSIVE).
  void AddListener(std::shared_ptr<ListenSocket> socket, std::shared_ptr<Frontend> frontend);
  // Thread-safe. Closes the listeners of `frontend` and ends their UDP sessions; TCP relays
  // already accepted go on.
  void RemoveListeners(const Frontend* frontend);

  const RelayStats& stats() const { return stats_; }

 private:
  struct Listener {
    std::shared_ptr<ListenSocket> socket;  // null once closed
    std::shared_ptr<Frontend> frontend;
    EpollTag tag;
    bool paused = false;  // out of epoll after accept() ran out of descriptors
    std::unordered_map<std::string, std::unique_ptr<UdpSession>> sessions;  // by client+local
  };

  void Run();
  void RunCommands();
  void AcceptTcp(Listener& l, std::chrono::steady_clock::time_point now);
  void ReadUdp(Listener& l, std::chrono::steady_clock::time_point now);
  // Admission: the frontend's connection limit, with its rate-limited warning.
  bool Admit(Frontend& frontend, std::chrono::steady_clock::time_point now);
  void Sweep(std::chrono::steady_clock::time_point now);
  void Reap();
  // Adds the listener to this worker's epoll set.
  bool Watch(Listener& l);
  void CloseListener(Listener& l);
  // accept() failed for lack of descriptors or memory: the connection stays queued and the socket
  // readable, so the listener leaves the epoll set until the next sweep instead of spinning.
  void Pause(Listener& l);
  void ResumePaused();

  const int index_;
  const UserspaceOptions options_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  EpollTag wake_tag_{EpollTag::Kind::kWake, nullptr};
  PipePool pipes_;
  RelayStats stats_;
  RelayContext ctx_;
  std::thread thread_;

  std::mutex mu_;  // guards commands_ and stopping_
  std::vector<std::function<void()>> commands_;
  bool stopping_ = false;

  // Worker thread only.
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<TcpRelay*, std::unique_ptr<TcpRelay>> relays_;
  std::vector<TcpRelay*> ready_;  // yielded with data pending
  std::vector<TcpRelay*> dead_relays_;
  std::vector<UdpSession*> dead_sessions_;
  std::vector<Listener*> paused_;
  std::chrono::milliseconds sweep_interval_{100};
  std::vector<char> datagram_;
  std::chrono::steady_clock::time_point next_sweep_{};
};

}  // namespace kpx
