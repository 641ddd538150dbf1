#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "base/ip_address.h"
#include "proxier/userspace/backend.h"

namespace kpx {

// A sockaddr_in or sockaddr_in6 with its length: the bridge between kpx's IpAddress/Backend and
// the socket calls.
class SocketAddress {
 public:
  SocketAddress() = default;
  static SocketAddress From(const IpAddress& ip, uint16_t port);
  static SocketAddress From(const Backend& b) { return From(b.ip, b.port); }
  // Any address ("0.0.0.0" or "::") of a family.
  static SocketAddress Any(IpFamily family, uint16_t port);

  sockaddr* get() { return reinterpret_cast<sockaddr*>(&ss_); }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss_); }
  socklen_t* mutable_len() { return &len_; }
  socklen_t len() const { return len_; }
  int family() const { return ss_.ss_family; }
  // The address, with IPv4-mapped IPv6 turned into IPv4; none for other families.
  std::optional<IpAddress> ip() const;
  uint16_t port() const;
  // The raw bytes, usable as a map key.
  std::string Key() const { return std::string(reinterpret_cast<const char*>(&ss_), len_); }

 private:
  sockaddr_storage ss_{};
  socklen_t len_ = sizeof(sockaddr_storage);
};

}  // namespace kpx
