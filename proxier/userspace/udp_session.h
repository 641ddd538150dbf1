#pragma once

#include <netinet/in.h>

#include <chrono>
#include <memory>
#include <string>

#include "proxier/userspace/frontend.h"
#include "proxier/userspace/relay_context.h"
#include "proxier/userspace/socket_address.h"

namespace kpx {

// The local address a datagram was sent to (after REDIRECT), from IP_PKTINFO/IPV6_PKTINFO.
// Replies must leave from exactly this address, or conntrack would not map them back to the
// service address the client talked to.
struct UdpLocalAddress {
  int family = 0;
  in_addr v4{};
  in6_addr v6{};
};

// One UDP client (address and port, per local address) of one listener, relayed to one endpoint
// through its own connected socket, so replies are matched to the client by the kernel. Ends
// after the UDP idle timeout, on an ICMP error from the endpoint, or with its listener. Owned by
// one worker thread; holds one slot of the frontend's connection limit while it lives.
class UdpSession {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  UdpSession(RelayContext ctx, int listener_fd, int backend_fd, SocketAddress client,
             UdpLocalAddress local, std::shared_ptr<Frontend> frontend, TimePoint now);
  ~UdpSession();
  UdpSession(const UdpSession&) = delete;
  UdpSession& operator=(const UdpSession&) = delete;

  int backend_fd() const { return backend_fd_; }
  EpollTag* tag() { return &tag_; }
  // A datagram from the client: forwarded to the endpoint.
  void FromClient(const char* data, size_t len, TimePoint now);
  // The endpoint's socket is readable: replies go back to the client from the listener socket.
  // Returns false when the session must end (the endpoint answered with an ICMP error).
  bool OnBackendReadable(char* buffer, size_t size, TimePoint now);
  bool Expired(TimePoint now) const {
    return now - last_activity_ >= ctx_.options->udp_idle_timeout;
  }

  // Worker bookkeeping: where the session is filed, and whether it is due for removal.
  std::string key;
  void* listener = nullptr;
  bool dead = false;

 private:
  RelayContext ctx_;
  int listener_fd_;
  int backend_fd_;
  SocketAddress client_;
  UdpLocalAddress local_;
  std::shared_ptr<Frontend> frontend_;
  TimePoint last_activity_;
  EpollTag tag_;
};

}  // namespace kpx
