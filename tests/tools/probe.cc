// kpx-probe tcp|udp IP PORT [--timeout-ms N] [--count N] [--interval-ms N] [--summary]
//           [--source IP]
//
// Connects (or sends a datagram) N times and prints the first reply line of each attempt, or
// "ERROR <reason>" — "refused" for a fast failure (a REJECT rule), "timeout" for silence. Exits
// 0 when every attempt got a reply. --summary prints only "ok=N failed=M" at the end, for loops
// that run across a restart; SIGINT ends such a loop early, still printing the summary.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSigint(int) { g_stop = 1; }

bool MakeAddr(const std::string& ip, int port, sockaddr_storage* ss, socklen_t* len) {
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

std::string Attempt(bool tcp, const sockaddr_storage& ss, socklen_t len, int timeout_ms,
                    const std::string& source) {
  const int fd = socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK, 0);
  if (fd < 0) return "ERROR " + ErrorText(errno);
  std::string out;
  if (!source.empty()) {
    sockaddr_storage src;
    socklen_t src_len;
    if (!MakeAddr(source, 0, &src, &src_len) ||
        bind(fd, reinterpret_cast<sockaddr*>(&src), src_len) != 0) {
      close(fd);
      return "ERROR bind " + source;
    }
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s tcp|udp IP PORT [--timeout-ms N] [--count N]\n", argv[0]);
    return 2;
  }
  const bool tcp = std::strcmp(argv[1], "tcp") == 0;
  int timeout_ms = 2000;
  int count = 1;
  int interval_ms = 0;
  bool summary = false;
  std::string source;
  for (int i = 4; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--summary") == 0) {
      summary = true;
    } else if (std::strcmp(argv[i], "--timeout-ms") == 0 && has_value) {
      timeout_ms = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--count") == 0 && has_value) {
      count = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--source") == 0 && has_value) {
      source = argv[++i];
    } else if (std::strcmp(argv[i], "--interval-ms") == 0 && has_value) {
      interval_ms = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  sockaddr_storage ss;
  socklen_t len;
  if (!MakeAddr(argv[2], std::atoi(argv[3]), &ss, &len)) {
    std::fprintf(stderr, "bad address %s\n", argv[2]);
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sigaction(SIGINT, &sa, nullptr);
  int ok = 0;
  int failed = 0;
  for (int i = 0; i < count && !g_stop; ++i) {
    if (i > 0 && interval_ms > 0) usleep(static_cast<useconds_t>(interval_ms) * 1000);
    const std::string r = Attempt(tcp, ss, len, timeout_ms, source);
    if (r.rfind("ERROR", 0) == 0) {
      ++failed;
      if (summary) std::fprintf(stderr, "attempt %d: %s\n", i, r.c_str());
    } else {
      ++ok;
    }
    if (!summary) std::printf("%s\n", r.c_str());
  }
  if (summary) std::printf("ok=%d failed=%d\n", ok, failed);
  return failed == 0 ? 0 : 1;
}
