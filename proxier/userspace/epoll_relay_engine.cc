#include "proxier/userspace/epoll_relay_engine.h"

#include <dirent.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "proxier/userspace/socket_address.h"

namespace kpx {

namespace {

constexpr int kBacklog = 4096;
// Descriptors kept free beyond the listeners: every relayed TCP connection holds two sockets and
// two pipes while active, and syncs, the API client and the HTTP servers need theirs.
constexpr uint64_t kMaxDescriptorReserve = 1024;

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

Result<std::shared_ptr<ListenSocket>> EpollRelayEngine::Bind(Protocol protocol, uint16_t* port) {
  const bool tcp = protocol == Protocol::kTCP;
  const bool v4 = std::find(families_.begin(), families_.end(), IpFamily::kIPv4) != families_.end();
  const bool v6 = std::find(families_.begin(), families_.end(), IpFamily::kIPv6) != families_.end();
  const IpFamily family = v6 ? IpFamily::kIPv6 : IpFamily::kIPv4;
  const int fd = socket(v6 ? AF_INET6 : AF_INET,
                        (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + strerror(errno));
  auto socket = std::make_shared<ListenSocket>(fd, protocol, family);
  const int one = 1;
  if (tcp) {
    // Inherited by every accepted socket: relayed bytes go out as they arrive.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (v6) {
    // Off: IPv4 peers arrive on the same socket as IPv4-mapped addresses, and their datagrams'
    // IPV6_PKTINFO carries the mapped local address, which sendmsg takes back for the reply.
    const int v6only = v4 ? 0 : 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
      return Status::Error(std::string("IPV6_V6ONLY: ") + strerror(errno));
    }
    if (!tcp) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
  } else if (!tcp) {
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  }
  SocketAddress addr = SocketAddress::Any(family, 0);
  if (bind(fd, addr.get(), addr.len()) != 0) {
    return Status::Error(std::string("bind: ") + strerror(errno));
  }
  SocketAddress got;
  if (getsockname(fd, got.get(), got.mutable_len()) != 0) {
    return Status::Error(std::string("getsockname: ") + strerror(errno));
  }
  if (tcp && listen(fd, kBacklog) != 0) {
    return Status::Error(std::string("listen: ") + strerror(errno));
  }
  *port = got.port();
  return socket;
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
  uint16_t port = 0;
  auto socket = Bind(protocol, &port);
  if (!socket.ok()) return socket.status();
  if (protocol == Protocol::kUDP) {
    workers_[next_udp_worker_++ % workers_.size()]->AddListener(*socket, frontend);
  } else {
    for (auto& w : workers_) w->AddListener(*socket, frontend);
  }
  return port;
}

void EpollRelayEngine::Close(const std::shared_ptr<Frontend>& frontend) {
  std::lock_guard lock(mu_);
  for (auto& w : workers_) w->RemoveListeners(frontend.get());
}

DescriptorBudget EpollRelayEngine::Budget() const {
  DescriptorBudget b;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return b;
  b.soft_limit = limit.rlim_cur;
  b.hard_limit = limit.rlim_max;
  b.reserve = std::min<uint64_t>(kMaxDescriptorReserve, b.soft_limit / 4);
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    // Out of descriptors already (EMFILE), or no /proc: then only open() itself can tell.
    b.open = b.soft_limit;
    b.frontends = errno == EMFILE || errno == ENFILE ? 0 : SIZE_MAX;
    return b;
  }
  uint64_t entries = 0;
  while (const dirent* e = readdir(dir)) entries += e->d_name[0] != '.';
  closedir(dir);
  b.open = entries > 0 ? entries - 1 : 0;  // the listing's own descriptor
  b.frontends = b.soft_limit > b.open + b.reserve ? b.soft_limit - b.open - b.reserve : 0;
  return b;
}

UserspaceCounters EpollRelayEngine::Counters() const {
  std::lock_guard lock(mu_);
  UserspaceCounters c;
  for (const auto& w : workers_) w->stats().AddTo(c);
  return c;
}

}  // namespace kpx
