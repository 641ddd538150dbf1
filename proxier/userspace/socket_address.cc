#include "proxier/userspace/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace kpx {

SocketAddress SocketAddress::From(const IpAddress& ip, uint16_t port) {
  SocketAddress a;
  if (ip.family() == IpFamily::kIPv4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.ss_);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, ip.bytes().data(), 4);
    a.len_ = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss_);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, ip.bytes().data(), 16);
    a.len_ = sizeof(sockaddr_in6);
  }
  return a;
}

SocketAddress SocketAddress::Any(IpFamily family, uint16_t port) {
  return From(IpAddress::FromBytes(family, {}), port);
}

std::optional<IpAddress> SocketAddress::ip() const {
  std::array<uint8_t, 16> bytes{};
  if (ss_.ss_family == AF_INET) {
    std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, 4);
    return IpAddress::FromBytes(IpFamily::kIPv4, bytes);
  }
  if (ss_.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss_);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      std::memcpy(bytes.data(), &in6->sin6_addr.s6_addr[12], 4);
      return IpAddress::FromBytes(IpFamily::kIPv4, bytes);
    }
    std::memcpy(bytes.data(), &in6->sin6_addr, 16);
    return IpAddress::FromBytes(IpFamily::kIPv6, bytes);
  }
  return std::nullopt;
}

uint16_t SocketAddress::port() const {
  if (ss_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
  if (ss_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
  }
  return 0;
}

}  // namespace kpx
