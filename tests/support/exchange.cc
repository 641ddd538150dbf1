#include "tests/support/exchange.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tests/support/socket_address.h"

namespace kpx::testing {

namespace {

std::string ErrorText(int err) {
  if (err == ECONNREFUSED) return "refused";
  if (err == ETIMEDOUT || err == EAGAIN) return "timeout";
  if (err == EHOSTUNREACH || err == ENETUNREACH) return "unreachable";
  return std::strerror(err);
}

// Waits for `events` on fd; returns 0, or an errno value.
int Wait(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  const int r = poll(&p, 1, timeout_ms);
  if (r == 0) return ETIMEDOUT;
  if (r < 0) return errno;
  return 0;
}

}  // namespace

std::string ExchangeOnce(Transport transport, const std::string& ip, int port, int timeout_ms,
                         const std::string& source) {
  // SCTP's one-to-one sockets connect, accept and read like TCP's.
  const bool tcp = transport != Transport::kUdp;
  sockaddr_storage ss;
  socklen_t len;
  if (!MakeSockaddr(ip, port, &ss, &len)) return "ERROR bad address " + ip;
  const int fd =
      socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
             transport == Transport::kSctp ? IPPROTO_SCTP : 0);
  if (fd < 0) return "ERROR " + ErrorText(errno);
  std::string out;
  if (!BindSource(fd, source)) {
    close(fd);
    return "ERROR bind " + source;
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    out = "ERROR " + ErrorText(errno);
  } else if (tcp) {
    int err = Wait(fd, POLLOUT, timeout_ms);
    socklen_t el = sizeof(err);
    if (err == 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) out = "ERROR " + ErrorText(err);
  } else if (send(fd, "ping\n", 5, 0) < 0) {
    out = "ERROR " + ErrorText(errno);
  }
  if (out.empty()) {
    char buf[512];
    const int err = Wait(fd, POLLIN, timeout_ms);
    if (err != 0) {
      out = "ERROR " + ErrorText(err);
    } else {
      const ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
      if (n <= 0) {
        out = "ERROR " + (n == 0 ? std::string("closed") : ErrorText(errno));
      } else {
        buf[n] = 0;
        out = buf;
        if (auto nl = out.find('\n'); nl != std::string::npos) out.resize(nl);
      }
    }
  }
  close(fd);
  return out;
}

std::string SctpUnavailable() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
  if (fd >= 0) {
    close(fd);
    return "";
  }
  return std::string("SCTP unavailable in this kernel (socket(IPPROTO_SCTP): ") +
         std::strerror(errno) + "; no CONFIG_IP_SCTP or module sctp not loadable)";
}

bool SctpRequired() {
  const char* v = std::getenv("KPX_REQUIRE_SCTP");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace kpx::testing
