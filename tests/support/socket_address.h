#pragma once

#include <sys/socket.h>

#include <string>

namespace kpx::testing {

// Fills `ss`/`len` for ip:port (IPv4 or IPv6 text). False for text that is no address.
bool MakeSockaddr(const std::string& ip, int port, sockaddr_storage* ss, socklen_t* len);

// Binds `fd` to `source` (any port) so a client sends from that address; true when `source` is
// empty (the kernel picks).
bool BindSource(int fd, const std::string& source);

// "ip:port" of a peer; IPv4 clients of a dual-stack socket (::ffff:a.b.c.d) print as IPv4, so
// tests can compare the address a server saw with the one they sent from.
std::string SockaddrText(const sockaddr_storage& ss);

}  // namespace kpx::testing
