#include "tests/support/udp_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/in_netns.h"

namespace kpx::testing {

UdpSession::UdpSession(const std::string& netns, int local_port) {
  // The socket belongs to the namespace it was made in, whichever thread uses it later.
  InNetns in(netns);
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(local_port));
  bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
}

UdpSession::~UdpSession() {
  if (fd_ >= 0) close(fd_);
}

std::string UdpSession::Ask(const std::string& ip, int port) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
  if (sendto(fd_, "hi", 2, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 2) return "error";
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 2000) <= 0) return "timeout";
  char buf[256];
  const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) return "error";
  std::string r(buf, static_cast<size_t>(n));
  return r.substr(0, r.find(' '));
}

}  // namespace kpx::testing
