#pragma once

#include "base/ip_address.h"
#include "base/protocol.h"

namespace kpx {

// One frontend's bound socket (listening, for TCP). A TCP listener sits in every relay worker's
// epoll set at once, so the descriptor is shared: it is closed when the last worker lets go of
// it, and no worker can ever touch a descriptor number that was closed and handed out again.
// One socket serves both families when the host has both (an IPv6 socket that also accepts
// IPv4-mapped peers), so a service port costs one descriptor however many workers and families
// serve it. Immutable after construction; thread-safe.
class ListenSocket {
 public:
  // Takes ownership of `fd`.
  ListenSocket(int fd, Protocol protocol, IpFamily family)
      : fd_(fd), protocol_(protocol), family_(family) {}
  ~ListenSocket();
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;

  int fd() const { return fd_; }
  Protocol protocol() const { return protocol_; }
  // The socket's own family (kIPv6 for a dual-stack socket); a peer's family comes from its
  // address, this is only the fallback.
  IpFamily family() const { return family_; }

 private:
  const int fd_;
  const Protocol protocol_;
  const IpFamily family_;
};

}  // namespace kpx
