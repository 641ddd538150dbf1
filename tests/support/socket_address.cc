#include "tests/support/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>

namespace kpx::testing {

bool MakeSockaddr(const std::string& ip, int port, sockaddr_storage* ss, socklen_t* len) {
  *ss = {};
  if (ip.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(*a);
    return inet_pton(AF_INET, ip.c_str(), &a->sin_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(static_cast<uint16_t>(port));
  *len = sizeof(*a);
  return inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) == 1;
}

bool BindSource(int fd, const std::string& source) {
  if (source.empty()) return true;
  sockaddr_storage src;
  socklen_t len;
  return MakeSockaddr(source, 0, &src, &len) &&
         bind(fd, reinterpret_cast<sockaddr*>(&src), len) == 0;
}

std::string SockaddrText(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], host, sizeof(host));
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    }
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace kpx::testing
