#include "proxier/userspace/udp_session.h"

#include <glog/logging.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace kpx {

namespace {
// Datagrams handled per readiness event before other sockets get a turn.
constexpr int kDatagramsPerTurn = 64;
}  // namespace

UdpSession::UdpSession(RelayContext ctx, int listener_fd, int backend_fd, SocketAddress client,
                       UdpLocalAddress local, std::shared_ptr<Frontend> frontend, TimePoint now)
    : ctx_(ctx),
      listener_fd_(listener_fd),
      backend_fd_(backend_fd),
      client_(client),
      local_(local),
      frontend_(std::move(frontend)),
      last_activity_(now),
      tag_{EpollTag::Kind::kUdpSession, this} {
  RelayStats::Add<uint64_t>(ctx_.stats->udp_sessions, 1);
  RelayStats::Add<int64_t>(ctx_.stats->udp_active_sessions, 1);
}

UdpSession::~UdpSession() {
  ctx_.CloseRegistered(backend_fd_);
  frontend_->limiter().Release();
  RelayStats::Add<int64_t>(ctx_.stats->udp_active_sessions, -1);
}

void UdpSession::FromClient(const char* data, size_t len, TimePoint now) {
  last_activity_ = now;
  // A full socket buffer drops the datagram, as the network would.
  if (send(backend_fd_, data, len, MSG_DONTWAIT) >= 0) {
    RelayStats::Add<uint64_t>(ctx_.stats->udp_datagrams, 1);
  }
}

bool UdpSession::OnBackendReadable(char* buffer, size_t size, TimePoint now) {
  for (int i = 0; i < kDatagramsPerTurn; ++i) {
    const ssize_t n = recv(backend_fd_, buffer, size, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      VLOG(3) << "userspace: UDP endpoint of " << frontend_->key().ToString() << ": "
              << strerror(errno);
      return false;
    }
    last_activity_ = now;
    iovec iov{buffer, static_cast<size_t>(n)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
    msghdr msg{};
    msg.msg_name = client_.get();
    msg.msg_namelen = client_.len();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (local_.family == AF_INET) {
      msg.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo info{};
      info.ipi_spec_dst = local_.v4;
      std::memcpy(CMSG_DATA(c), &info, sizeof(info));
    } else if (local_.family == AF_INET6) {
      msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
      in6_pktinfo info{};
      info.ipi6_addr = local_.v6;
      std::memcpy(CMSG_DATA(c), &info, sizeof(info));
    } else {
      msg.msg_control = nullptr;
    }
    if (sendmsg(listener_fd_, &msg, MSG_DONTWAIT) >= 0) {
      RelayStats::Add<uint64_t>(ctx_.stats->udp_datagrams, 1);
    }
  }
  return true;
}

}  // namespace kpx
