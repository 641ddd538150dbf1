#pragma once

#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "proxier/userspace/pipe_pool.h"
#include "proxier/userspace/relay_stats.h"
#include "proxier/userspace/userspace_options.h"

namespace kpx {

// What epoll_event.data.ptr points at: which object an event is for, and which of its sockets.
struct EpollTag {
  enum class Kind : uint8_t { kWake, kListener, kTcpClient, kTcpBackend, kUdpSession };
  Kind kind = Kind::kWake;
  void* owner = nullptr;
};

// A worker's resources that its connections use. Everything here belongs to one worker thread.
struct RelayContext {
  int epoll_fd = -1;
  PipePool* pipes = nullptr;
  RelayStats* stats = nullptr;
  const UserspaceOptions* options = nullptr;

  // Closes a socket registered with this worker's epoll, deregistering it first. close() alone
  // removes the registration only with the last reference to the socket, and a child being
  // spawned by another thread holds one until its exec: an event could then still arrive with a
  // data.ptr into a connection already freed.
  void CloseRegistered(int fd) const {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
  }
};

}  // namespace kpx
