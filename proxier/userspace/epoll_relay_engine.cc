#include "proxier/userspace/epoll_relay_engine.h"

#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "proxier/userspace/socket_address.h"

namespace kpx {

namespace {

constexpr int kBindAttempts = 16;
constexpr int kBacklog = 4096;

int ProtocolIndex(Protocol p) { return p == Protocol::kUDP ? 1 : 0; }

}  // namespace

EpollRelayEngine::EpollRelayEngine(UserspaceOptions options) : options_(std::move(options)) {
  int n = options_.workers;
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<RelayWorker>(i, options_));
}

EpollRelayEngine::~EpollRelayEngine() {
  std::lock_guard lock(mu_);
  for (auto& w : workers_) w->Stop();
  workers_.clear();
}

Status EpollRelayEngine::EnsureStarted() {
  if (started_) return Status::Ok();
  for (IpFamily f : options_.families) {
    const int fd = socket(f == IpFamily::kIPv4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      LOG(WARNING) << "userspace: no " << IpFamilyName(f) << " sockets on this host ("
                   << strerror(errno) << "); not proxying that family";
      continue;
    }
    close(fd);
    families_.push_back(f);
  }
  for (auto& w : workers_) {
    Status st = w->Start();
    if (!st.ok()) return st;
  }
  started_ = true;
  LOG(INFO) << "userspace: " << workers_.size() << " relay workers started";
  return Status::Ok();
}

Result<std::vector<EpollRelayEngine::Bound>> EpollRelayEngine::BindAll(Protocol protocol,
                                                                       int udp_worker,
                                                                       uint16_t* port) {
  std::vector<Bound> bound;
  auto fail = [&](const std::string& what) -> Status {
    const int err = errno;
    for (const Bound& b : bound) close(b.fd);
    errno = err;
    return Status::Error(what + ": " + strerror(err));
  };
  const bool tcp = protocol == Protocol::kTCP;
  *port = 0;
  for (IpFamily f : families_) {
    const int first = tcp ? 0 : udp_worker;
    const int last = tcp ? static_cast<int>(workers_.size()) : udp_worker + 1;
    for (int w = first; w < last; ++w) {
      const int fd = socket(f == IpFamily::kIPv4 ? AF_INET : AF_INET6,
                            (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return fail("socket");
      bound.push_back(Bound{fd, f, w});
      const int one = 1;
      if (tcp) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        // Inherited by every accepted socket: relayed bytes go out as they arrive.
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      if (f == IpFamily::kIPv6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (!tcp) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
      } else if (!tcp) {
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
      }
      SocketAddress addr = SocketAddress::Any(f, *port);
      if (bind(fd, addr.get(), addr.len()) != 0) return fail("bind");
      if (*port == 0) {
        SocketAddress got;
        if (getsockname(fd, got.get(), got.mutable_len()) != 0) return fail("getsockname");
        *port = got.port();
      }
      if (tcp && listen(fd, kBacklog) != 0) return fail("listen");
    }
  }
  return bound;
}

Result<uint16_t> EpollRelayEngine::Open(std::shared_ptr<Frontend> frontend) {
  std::lock_guard lock(mu_);
  Status st = EnsureStarted();
  if (!st.ok()) return st;
  if (families_.empty()) return Status::Error("no usable address family");
  const Protocol protocol = frontend->protocol();
  if (protocol != Protocol::kTCP && protocol != Protocol::kUDP) {
    return Status::Error("only TCP and UDP are relayed");
  }
  const int udp_worker = static_cast<int>(next_udp_worker_ % workers_.size());
  auto& in_use = ports_in_use_[ProtocolIndex(protocol)];
  Status last = Status::Error("no attempt");
  for (int attempt = 0; attempt < kBindAttempts; ++attempt) {
    uint16_t port = 0;
    auto bound = BindAll(protocol, udp_worker, &port);
    if (!bound.ok()) {
      last = bound.status();
      if (errno == EADDRINUSE) continue;
      return last;
    }
    if (in_use.contains(port)) {
      // Never share a port (and with it a reuseport group) with another frontend of ours.
      for (const Bound& b : *bound) close(b.fd);
      continue;
    }
    in_use.insert(port);
    open_[frontend.get()] = {ProtocolIndex(protocol), port};
    if (protocol == Protocol::kUDP) ++next_udp_worker_;
    for (const Bound& b : *bound) workers_[b.worker]->AddListener(b.fd, b.family, frontend);
    return port;
  }
  return last;
}

void EpollRelayEngine::Close(const std::shared_ptr<Frontend>& frontend) {
  std::lock_guard lock(mu_);
  for (auto& w : workers_) w->RemoveListeners(frontend.get());
  auto it = open_.find(frontend.get());
  if (it == open_.end()) return;
  ports_in_use_[it->second.first].erase(it->second.second);
  open_.erase(it);
}

UserspaceCounters EpollRelayEngine::Counters() const {
  std::lock_guard lock(mu_);
  UserspaceCounters c;
  for (const auto& w : workers_) w->stats().AddTo(c);
  return c;
}

}  // namespace kpx
