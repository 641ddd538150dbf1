#include "proxier/userspace/relay_worker.h"

#include <glog/logging.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace kpx {

namespace {

using Clock = std::chrono::steady_clock;

// Accepts (or datagrams) per listener readiness before other sockets get a turn.
constexpr int kAcceptsPerTurn = 64;
constexpr int kMaxEvents = 256;
// Empty pipes kept for reuse per worker: enough for bursts of short connections, small enough
// not to hold much memory (pipes hold no pages while empty).
constexpr size_t kPooledPipes = 512;
constexpr size_t kMaxDatagram = 65536;

void ResetAndClose(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

// netfilter's getsockopt for a connection's destination before NAT (linux/netfilter_ipv4.h's
// SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST in ip6_tables.h; both 80, not in glibc's headers).
constexpr int kSoOriginalDst = 80;

// False when the accepted connection provably came straight to the listener's port rather than
// through a portal's REDIRECT: its destination before NAT is the listener's own address and
// port, or conntrack has no entry for it (REDIRECT always makes one). Listeners bind the
// wildcard address, so their ports answer on every node address, where no portal rule (and no
// loadBalancerSourceRanges) applies. Any other failure cannot tell, and lets the connection in.
bool ThroughPortal(int fd) {
  SocketAddress local;
  if (getsockname(fd, local.get(), local.mutable_len()) != 0) return true;
  const std::optional<IpAddress> local_ip = local.ip();
  if (!local_ip) return true;
  SocketAddress original;
  // An IPv4 peer on a dual-stack socket is tracked as IPv4.
  const bool v4 = local_ip->family() == IpFamily::kIPv4;
  if (getsockopt(fd, v4 ? SOL_IP : SOL_IPV6, kSoOriginalDst, original.get(),
                 original.mutable_len()) != 0) {
    return errno != ENOENT;
  }
  return original.ip() != local_ip || original.port() != local.port();
}

UdpLocalAddress LocalAddressOf(msghdr& msg) {
  UdpLocalAddress local;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      local.family = AF_INET;
      local.v4 = info.ipi_addr;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      local.family = AF_INET6;
      local.v6 = info.ipi6_addr;
    }
  }
  return local;
}

}  // namespace

RelayWorker::RelayWorker(int index, const UserspaceOptions& options)
    : index_(index), options_(options), pipes_(options.pipe_size, kPooledPipes) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ctx_ = RelayContext{epoll_fd_, &pipes_, &stats_, &options_};
  datagram_.resize(kMaxDatagram);
  // Timers need only a fraction of the shortest timeout as resolution.
  auto interval = std::min<std::chrono::milliseconds>({std::chrono::milliseconds(1000),
                                                       options_.udp_idle_timeout / 2,
                                                       options_.connect_timeout / 4});
  sweep_interval_ = std::max<std::chrono::milliseconds>(interval, std::chrono::milliseconds(10));
}

RelayWorker::~RelayWorker() {
  Stop();
  // Commands that never ran still own listening sockets.
  RunCommands();
  ready_.clear();
  relays_.clear();
  for (auto& l : listeners_) CloseListener(*l);
  listeners_.clear();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

Status RelayWorker::Start() {
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return Status::Error(std::string("epoll/eventfd: ") + strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_tag_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return Status::Error(std::string("epoll_ctl(eventfd): ") + strerror(errno));
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void RelayWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void RelayWorker::AddListener(std::shared_ptr<ListenSocket> socket,
                              std::shared_ptr<Frontend> frontend) {
  {
    std::lock_guard lock(mu_);
    commands_.push_back([this, socket = std::move(socket),
                         frontend = std::move(frontend)]() mutable {
      auto l = std::make_unique<Listener>();
      l->socket = std::move(socket);
      l->frontend = std::move(frontend);
      l->tag = EpollTag{EpollTag::Kind::kListener, l.get()};
      if (!Watch(*l)) {
        PLOG(ERROR) << "userspace: epoll_ctl for a listener of " << l->frontend->key().ToString();
        return;
      }
      RelayStats::Add<int64_t>(stats_.listeners, 1);
      listeners_.push_back(std::move(l));
    });
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

bool RelayWorker::Watch(Listener& l) {
  // Level-triggered: a burst larger than one turn is picked up on the next wait. Exclusive for
  // TCP: the socket is in every worker's set and one connection needs only one of them awake.
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (l.socket->protocol() == Protocol::kTCP) ev.events |= EPOLLEXCLUSIVE;
  ev.data.ptr = &l.tag;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, l.socket->fd(), &ev) == 0;
}

void RelayWorker::RemoveListeners(const Frontend* frontend) {
  {
    std::lock_guard lock(mu_);
    commands_.push_back([this, frontend] {
      std::erase_if(listeners_, [&](std::unique_ptr<Listener>& l) {
        if (l->frontend.get() != frontend) return false;
        CloseListener(*l);
        return true;
      });
    });
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void RelayWorker::CloseListener(Listener& l) {
  if (!l.socket) return;
  // Other workers may still serve the socket: leave this epoll set explicitly (closing would not
  // remove it while their references keep the descriptor open).
  if (!l.paused) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.socket->fd(), nullptr);
  std::erase(paused_, &l);
  l.sessions.clear();  // they reply through the socket
  l.socket.reset();
  RelayStats::Add<int64_t>(stats_.listeners, -1);
}

void RelayWorker::Pause(Listener& l) {
  if (l.paused) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.socket->fd(), nullptr);
  l.paused = true;
  paused_.push_back(&l);
}

void RelayWorker::ResumePaused() {
  for (Listener* l : paused_) {
    l->paused = false;
    if (!Watch(*l)) {
      PLOG(ERROR) << "userspace: epoll_ctl for a listener of " << l->frontend->key().ToString();
    }
  }
  paused_.clear();
}

void RelayWorker::RunCommands() {
  std::vector<std::function<void()>> commands;
  {
    std::lock_guard lock(mu_);
    commands.swap(commands_);
  }
  for (auto& c : commands) c();
}

bool RelayWorker::Admit(Frontend& frontend, Clock::time_point now) {
  const ConnectionLimiter::Verdict v = frontend.limiter().TryAcquire(now);
  if (v.admitted) return true;
  RelayStats::Add<uint64_t>(stats_.limit_hits, 1);
  if (v.log_refused > 0) {
    LOG(WARNING) << "userspace: " << frontend.key().ToString() << " is at its limit of "
                 << frontend.limiter().limit() << " concurrent connections; refused "
                 << v.log_refused << " since the last warning";
  }
  return false;
}

void RelayWorker::AcceptTcp(Listener& l, Clock::time_point now) {
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    SocketAddress peer;
    const int c =
        accept4(l.socket->fd(), peer.get(), peer.mutable_len(), SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      RelayStats::Add<uint64_t>(stats_.accept_failures, 1);
      PLOG_EVERY_N(WARNING, 100) << "userspace: accept for " << l.frontend->key().ToString()
                                 << " (listener paused until the next sweep)";
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) Pause(l);
      return;
    }
    RelayStats::Add<uint64_t>(stats_.accepted, 1);
    l.frontend->accepted.fetch_add(1, std::memory_order_relaxed);
    if (options_.require_portal && !ThroughPortal(c)) {
      RelayStats::Add<uint64_t>(stats_.direct_rejects, 1);
      LOG_EVERY_N(WARNING, 100) << "userspace: reset a connection made straight to the listener "
                                   "port of "
                                << l.frontend->key().ToString() << " (not through its portals)";
      ResetAndClose(c);
      continue;
    }
    if (!Admit(*l.frontend, now)) {
      ResetAndClose(c);
      continue;
    }
    // A dual-stack listener's IPv4 peers come as IPv4-mapped addresses, which ip() unmaps.
    const std::optional<IpAddress> peer_ip = peer.ip();
    const IpFamily family = peer_ip ? peer_ip->family() : l.socket->family();
    auto relay =
        std::make_unique<TcpRelay>(ctx_, c, l.frontend, family, peer_ip.value_or(IpAddress()));
    TcpRelay* r = relay.get();
    relays_.emplace(r, std::move(relay));
    r->Start(now);
    if (r->done()) {
      dead_relays_.push_back(r);
    } else if (r->wants_more() && !r->queued) {
      r->queued = true;
      ready_.push_back(r);
    }
  }
}

void RelayWorker::ReadUdp(Listener& l, Clock::time_point now) {
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    SocketAddress client;
    iovec iov{datagram_.data(), datagram_.size()};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_name = client.get();
    msg.msg_namelen = client.len();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(l.socket->fd(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    *client.mutable_len() = msg.msg_namelen;
    const UdpLocalAddress local = LocalAddressOf(msg);
    std::string key = client.Key();
    key.append(reinterpret_cast<const char*>(&local), sizeof(local));
    auto it = l.sessions.find(key);
    if (it == l.sessions.end()) {
      if (!Admit(*l.frontend, now)) continue;
      const std::optional<IpAddress> client_ip = client.ip();
      const IpFamily family = client_ip ? client_ip->family() : l.socket->family();
      const std::optional<Backend> backend =
          l.frontend->picker(family).Pick(client_ip.value_or(IpAddress()), now);
      if (!backend) {
        l.frontend->limiter().Release();
        RelayStats::Add<uint64_t>(stats_.no_endpoint_rejects, 1);
        l.frontend->no_endpoint_rejects.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const SocketAddress to = SocketAddress::From(*backend);
      const int fd = socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0 || connect(fd, to.get(), to.len()) != 0) {
        if (fd >= 0) close(fd);
        l.frontend->limiter().Release();
        RelayStats::Add<uint64_t>(stats_.failed_connects, 1);
        continue;
      }
      auto session =
          std::make_unique<UdpSession>(ctx_, l.socket->fd(), fd, client, local, l.frontend, now);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = session->tag();
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) continue;  // session closes fd
      session->key = key;
      session->listener = &l;
      it = l.sessions.emplace(std::move(key), std::move(session)).first;
    }
    it->second->FromClient(datagram_.data(), static_cast<size_t>(n), now);
  }
}

void RelayWorker::Sweep(Clock::time_point now) {
  ResumePaused();
  for (auto& [r, relay] : relays_) {
    if (relay->done()) continue;
    relay->CheckTimers(now);
    if (relay->done()) dead_relays_.push_back(r);
  }
  for (auto& l : listeners_) {
    std::erase_if(l->sessions, [&](const auto& entry) { return entry.second->Expired(now); });
  }
}

void RelayWorker::Reap() {
  // A relay still in ready_ (a sweep found it timed out after it was queued) is freed at the
  // next reap, once the ready loop has dropped it; forgetting it here would leak it.
  std::vector<TcpRelay*> still_queued;
  for (TcpRelay* r : dead_relays_) {
    if (r->queued) {
      still_queued.push_back(r);
      continue;
    }
    relays_.erase(r);
  }
  dead_relays_.swap(still_queued);
  for (UdpSession* s : dead_sessions_) {
    static_cast<Listener*>(s->listener)->sessions.erase(s->key);
  }
  dead_sessions_.clear();
}

void RelayWorker::Run() {
  // A splice into a socket the peer closed raises SIGPIPE at this thread; the EPIPE it returns
  // is all the relay needs.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  pthread_setname_np(pthread_self(), ("kpx-relay-" + std::to_string(index_)).c_str());

  epoll_event events[kMaxEvents];
  next_sweep_ = Clock::now() + sweep_interval_;
  for (;;) {
    const int timeout = ready_.empty() ? static_cast<int>(sweep_interval_.count()) : 0;
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      PLOG(ERROR) << "userspace: epoll_wait";
      return;
    }
    const Clock::time_point now = Clock::now();
    bool woke = false;
    for (int i = 0; i < n; ++i) {
      auto* tag = static_cast<EpollTag*>(events[i].data.ptr);
      const uint32_t ev = events[i].events;
      switch (tag->kind) {
        case EpollTag::Kind::kWake: {
          uint64_t v;
          (void)!read(wake_fd_, &v, sizeof(v));
          woke = true;
          break;
        }
        case EpollTag::Kind::kListener: {
          auto* l = static_cast<Listener*>(tag->owner);
          if (l->frontend->protocol() == Protocol::kUDP) {
            ReadUdp(*l, now);
          } else {
            AcceptTcp(*l, now);
          }
          break;
        }
        case EpollTag::Kind::kTcpClient:
        case EpollTag::Kind::kTcpBackend: {
          auto* r = static_cast<TcpRelay*>(tag->owner);
          if (r->done()) break;
          if (tag->kind == EpollTag::Kind::kTcpClient) {
            r->OnClientEvent(ev, now);
          } else {
            r->OnBackendEvent(ev, now);
          }
          if (r->done()) {
            dead_relays_.push_back(r);
          } else if (r->wants_more() && !r->queued) {
            r->queued = true;
            ready_.push_back(r);
          }
          break;
        }
        case EpollTag::Kind::kUdpSession: {
          auto* s = static_cast<UdpSession*>(tag->owner);
          if (s->dead) break;
          if (!s->OnBackendReadable(datagram_.data(), datagram_.size(), now)) {
            s->dead = true;
            dead_sessions_.push_back(s);
          }
          break;
        }
      }
    }
    if (!ready_.empty()) {
      std::vector<TcpRelay*> batch;
      batch.swap(ready_);
      for (TcpRelay* r : batch) {
        r->queued = false;
        if (r->done()) continue;  // already on dead_relays_
        r->Resume(now);
        if (r->done()) {
          dead_relays_.push_back(r);
        } else if (r->wants_more()) {
          r->queued = true;
          ready_.push_back(r);
        }
      }
    }
    Reap();
    if (woke) {
      RunCommands();
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (now >= next_sweep_) {
      Sweep(now);
      Reap();
      next_sweep_ = now + sweep_interval_;
    }
  }
}

}  // namespace kpx
