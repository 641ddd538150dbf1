#pragma once

#include <string>

namespace kpx::testing {

// One UDP socket bound to a fixed source port in a namespace: successive datagrams share one
// conntrack entry, so they keep reaching the endpoint it was DNATed to until the entry is
// deleted. Tests of UDP conntrack cleanup ask, change the endpoints, and ask again. IPv4.
class UdpSession {
 public:
  UdpSession(const std::string& netns, int local_port);
  UdpSession(const UdpSession&) = delete;
  UdpSession& operator=(const UdpSession&) = delete;
  ~UdpSession();

  bool bound() const { return bound_; }
  // Sends one datagram to ip:port and returns the first word of the answer (the echo servers'
  // name), "timeout" after 2 s of silence, or "error".
  std::string Ask(const std::string& ip, int port);

 private:
  int fd_ = -1;
  bool bound_ = false;
};

}  // namespace kpx::testing
