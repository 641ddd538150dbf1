#include "proxier/userspace/tcp_relay.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "proxier/userspace/socket_address.h"

namespace kpx {

namespace {

// Registered once per socket: edge-triggered, so steady traffic costs no epoll_ctl.
constexpr uint32_t kStreamEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
// One splice asks for at most this much; the kernel caps it at the pipe's free room.
constexpr size_t kSpliceChunk = 1 << 20;
// Splice rounds per direction before yielding to other connections of the worker; the relay is
// then re-queued, since an edge-triggered socket would not report the data left behind.
constexpr int kRoundsPerTurn = 16;

void SetLingerZero(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

// Relayed bytes are forwarded as soon as they arrive; Nagle would only add latency on top of
// whatever batching the two peers already do.
void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int SocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace

TcpRelay::TcpRelay(RelayContext ctx, int client_fd, std::shared_ptr<Frontend> frontend,
                   IpFamily family, IpAddress client_ip)
    : ctx_(ctx),
      client_fd_(client_fd),
      frontend_(std::move(frontend)),
      family_(family),
      client_ip_(client_ip),
      client_tag_{EpollTag::Kind::kTcpClient, this},
      backend_tag_{EpollTag::Kind::kTcpBackend, this} {
  RelayStats::Add<int64_t>(ctx_.stats->active, 1);
}

TcpRelay::~TcpRelay() {
  Finish(false);
  frontend_->limiter().Release();
  RelayStats::Add<int64_t>(ctx_.stats->active, -1);
}

void TcpRelay::Start(TimePoint now) {
  last_activity_ = now;
  epoll_event ev{};
  ev.events = kStreamEvents;
  ev.data.ptr = &client_tag_;
  if (epoll_ctl(ctx_.epoll_fd, EPOLL_CTL_ADD, client_fd_, &ev) != 0) {
    PLOG(WARNING) << "userspace: epoll_ctl for a client of " << frontend_->key().ToString();
    Finish(true);
    return;
  }
  // TCP_NODELAY comes from the listening socket.
  ConnectNext(now);
}

void TcpRelay::ConnectNext(TimePoint now) {
  EndpointPicker& picker = frontend_->picker(family_);
  const size_t max_attempts = static_cast<size_t>(std::max(1, ctx_.options->max_connect_attempts));
  for (;;) {
    if (tried_.size() >= max_attempts) {
      VLOG(3) << "userspace: " << frontend_->key().ToString() << ": giving up after "
              << tried_.size() << " endpoints";
      Finish(true);
      return;
    }
    const std::optional<Backend> next =
        tried_.empty() ? picker.Pick(client_ip_, now) : picker.PickNext(client_ip_, tried_, now);
    if (!next) {
      if (tried_.empty()) {
        RelayStats::Add<uint64_t>(ctx_.stats->no_endpoint_rejects, 1);
        frontend_->no_endpoint_rejects.fetch_add(1, std::memory_order_relaxed);
      }
      Finish(true);
      return;
    }
    if (!tried_.empty()) RelayStats::Add<uint64_t>(ctx_.stats->retries, 1);
    tried_.push_back(*next);
    backend_ = *next;
    const SocketAddress addr = SocketAddress::From(*next);
    const int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      PLOG(WARNING) << "userspace: socket for " << next->ToString();
      RelayStats::Add<uint64_t>(ctx_.stats->failed_connects, 1);
      continue;
    }
    SetNoDelay(fd);
    const int r = connect(fd, addr.get(), addr.len());
    if (r != 0 && errno != EINPROGRESS) {
      VLOG(3) << "userspace: connect to " << next->ToString() << ": " << strerror(errno);
      RelayStats::Add<uint64_t>(ctx_.stats->failed_connects, 1);
      close(fd);
      continue;
    }
    epoll_event ev{};
    ev.events = kStreamEvents;
    ev.data.ptr = &backend_tag_;
    if (epoll_ctl(ctx_.epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      RelayStats::Add<uint64_t>(ctx_.stats->failed_connects, 1);
      close(fd);
      continue;
    }
    backend_fd_ = fd;
    state_ = State::kConnecting;
    connect_deadline_ = now + ctx_.options->connect_timeout;
    if (r == 0) {
      OnConnected(now);
      return;
    }
    // A local endpoint (loopback, a pod on this node) has usually completed the handshake by
    // the time connect() returns: checking now saves the wait for EPOLLOUT, one event-loop
    // round per connection, which is most of the latency of a short one.
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 0) == 1 && p.revents == POLLOUT) OnConnected(now);
    return;
  }
}

void TcpRelay::OnConnected(TimePoint now) {
  state_ = State::kEstablished;
  last_activity_ = now;
  up_.pipe = ctx_.pipes->Get();
  down_.pipe = ctx_.pipes->Get();
  if (!up_.pipe.valid() || !down_.pipe.valid()) {
    PLOG(WARNING) << "userspace: no pipe for a connection of " << frontend_->key().ToString();
    Finish(true);
    return;
  }
  PumpBoth(now);
}

void TcpRelay::OnBackendEvent(uint32_t events, TimePoint now) {
  if (state_ == State::kDone) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) down_.src_ready = true;
  if (events & EPOLLOUT) up_.dst_ready = true;
  if (state_ == State::kConnecting) {
    const int err = SocketError(backend_fd_);
    const bool failed = err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0;
    if (!failed) {
      if (events & EPOLLOUT) OnConnected(now);
      return;
    }
    VLOG(3) << "userspace: connect to " << backend_.ToString() << ": " << strerror(err);
    RelayStats::Add<uint64_t>(ctx_.stats->failed_connects, 1);
    CloseBackend(false);
    ConnectNext(now);
    return;
  }
  if ((events & EPOLLERR) && SocketError(backend_fd_) != 0) {
    RelayStats::Add<uint64_t>(ctx_.stats->resets, 1);
    Finish(true);
    return;
  }
  PumpBoth(now);
}

void TcpRelay::OnClientEvent(uint32_t events, TimePoint now) {
  if (state_ == State::kDone) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) up_.src_ready = true;
  if (events & EPOLLOUT) down_.dst_ready = true;
  if ((events & EPOLLERR) && SocketError(client_fd_) != 0) {
    RelayStats::Add<uint64_t>(ctx_.stats->resets, 1);
    Finish(true);
    return;
  }
  // While connecting, client data and EOF wait in the socket; OnConnected pumps them.
  if (state_ == State::kEstablished) PumpBoth(now);
}

void TcpRelay::CheckTimers(TimePoint now) {
  if (state_ == State::kConnecting && now >= connect_deadline_) {
    VLOG(3) << "userspace: connect to " << backend_.ToString() << " timed out";
    RelayStats::Add<uint64_t>(ctx_.stats->failed_connects, 1);
    CloseBackend(false);
    ConnectNext(now);
    return;
  }
  const auto idle = ctx_.options->tcp_idle_timeout;
  if (state_ == State::kEstablished && idle.count() > 0 && now - last_activity_ >= idle) {
    RelayStats::Add<uint64_t>(ctx_.stats->idle_timeouts, 1);
    Finish(false);
  }
}

void TcpRelay::PumpBoth(TimePoint now) {
  uint64_t moved = 0;
  wants_more_ = false;
  const PumpResult up = Pump(up_, client_fd_, backend_fd_, moved);
  const PumpResult down =
      up == PumpResult::kError ? PumpResult::kError : Pump(down_, backend_fd_, client_fd_, moved);
  if (moved > 0) RelayStats::Add<uint64_t>(ctx_.stats->bytes_spliced, moved);
  if (up == PumpResult::kError || down == PumpResult::kError) {
    RelayStats::Add<uint64_t>(ctx_.stats->resets, 1);
    Finish(true);
    return;
  }
  if (up != PumpResult::kIdle || down != PumpResult::kIdle) last_activity_ = now;
  wants_more_ = up == PumpResult::kYield || down == PumpResult::kYield;
  if (up_.dst_shut && down_.dst_shut) Finish(false);
}

TcpRelay::PumpResult TcpRelay::Pump(Direction& d, int src, int dst, uint64_t& moved) {
  PumpResult result = PumpResult::kIdle;
  for (int round = 0;; ++round) {
    if (round == kRoundsPerTurn) return PumpResult::kYield;
    bool progress = false;
    if (!d.src_eof && d.src_ready) {
      const ssize_t n = splice(src, nullptr, d.pipe.write_fd, nullptr, kSpliceChunk,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.pipe.bytes += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        d.src_eof = true;
        progress = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        // With data in the pipe, EAGAIN may mean the pipe is full rather than the socket
        // empty: the source stays "ready" and is tried again once the pipe drains.
        if (d.pipe.bytes == 0) d.src_ready = false;
      } else {
        VLOG(3) << "userspace: read side of " << frontend_->key().ToString() << ": "
                << strerror(errno);
        return PumpResult::kError;
      }
    }
    if (d.pipe.bytes > 0 && d.dst_ready) {
      const ssize_t m = splice(d.pipe.read_fd, nullptr, dst, nullptr, d.pipe.bytes,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m > 0) {
        d.pipe.bytes -= static_cast<size_t>(m);
        moved += static_cast<uint64_t>(m);
        progress = true;
      } else if (m < 0 && errno == EINTR) {
        continue;
      } else if (m < 0 && errno == EAGAIN) {
        d.dst_ready = false;
      } else if (m < 0) {
        VLOG(3) << "userspace: write side of " << frontend_->key().ToString() << ": "
                << strerror(errno);
        return PumpResult::kError;
      }
    }
    if (!progress) break;
    result = PumpResult::kMoved;
  }
  if (d.src_eof && d.pipe.bytes == 0 && !d.dst_shut) {
    shutdown(dst, SHUT_WR);
    d.dst_shut = true;
    result = PumpResult::kMoved;
  }
  return result;
}

void TcpRelay::CloseBackend(bool reset) {
  if (backend_fd_ < 0) return;
  if (reset) SetLingerZero(backend_fd_);
  ctx_.CloseRegistered(backend_fd_);
  backend_fd_ = -1;
}

void TcpRelay::Finish(bool reset) {
  if (state_ == State::kDone) return;
  state_ = State::kDone;
  wants_more_ = false;
  if (client_fd_ >= 0) {
    if (reset) SetLingerZero(client_fd_);
    ctx_.CloseRegistered(client_fd_);
    client_fd_ = -1;
  }
  CloseBackend(reset);
  ctx_.pipes->Put(up_.pipe);
  ctx_.pipes->Put(down_.pipe);
}

}  // namespace kpx
