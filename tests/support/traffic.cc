#include "tests/support/traffic.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <thread>

#include "tests/support/socket_address.h"

namespace kpx::testing {

namespace {

void SetTimeouts(int fd) {
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

int TcpConnect(const std::string& ip, int port, const std::string& source) {
  sockaddr_storage ss;
  socklen_t len;
  if (!MakeSockaddr(ip, port, &ss, &len)) return -1;
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  SetTimeouts(fd);
  if (!BindSource(fd, source)) {
    close(fd);
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

int UdpConnect(const std::string& ip, int port) {
  sockaddr_storage ss;
  socklen_t len;
  if (!MakeSockaddr(ip, port, &ss, &len)) return -1;
  const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool SendAll(int fd, const std::string& s) { return SendAll(fd, s.data(), s.size()); }

std::string ReadLine(int fd) {
  std::string line;
  char c;
  for (;;) {
    const ssize_t n = recv(fd, &c, 1, 0);
    if (n == 1) {
      if (c == '\n') return line;
      line += c;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return "ERROR eof";
    return std::string("ERROR ") + (errno == ECONNRESET ? "reset" : strerror(errno));
  }
}

bool ReadToEof(int fd, std::string* out) {
  char buf[65536];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return true;
    if (errno == EINTR) continue;
    return false;
  }
}

std::string Greeting(const std::string& ip, int port, const std::string& source) {
  const int fd = TcpConnect(ip, port, source);
  if (fd < 0) return std::string("ERROR ") + (errno == ECONNREFUSED ? "refused" : strerror(errno));
  std::string line = ReadLine(fd);
  close(fd);
  return line;
}

bool WaitForGreeting(const std::string& ip, int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (Greeting(ip, port).rfind("ERROR", 0) != 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string UdpRequest(int fd, const std::string& payload, int timeout_ms) {
  if (send(fd, payload.data(), payload.size(), 0) < 0) return "ERROR send";
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return "ERROR timeout";
  char buf[2048];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  if (n < 0) return std::string("ERROR ") + strerror(errno);
  std::string s(buf, static_cast<size_t>(n));
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

uint64_t Fnv(const char* data, size_t len, uint64_t h) {
  for (size_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ull;
  }
  return h;
}

std::string Pattern(size_t len, uint32_t seed) {
  std::string s(len, '\0');
  uint64_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

RoundTrip EchoRoundTrip(int fd, const std::string& payload, size_t expect_bytes, bool half_close) {
  RoundTrip r;
  bool sent = false;
  std::thread sender([&] {
    sent = SendAll(fd, payload);
    if (half_close) shutdown(fd, SHUT_WR);
  });
  r.received.reserve(expect_bytes);
  r.ok = ReadToEof(fd, &r.received);
  sender.join();
  r.ok = r.ok && sent;
  return r;
}

int ConcurrentEchoRoundTrips(const std::vector<int>& fds, size_t bytes) {
  std::vector<std::future<bool>> results;
  for (size_t i = 0; i < fds.size(); ++i) {
    results.push_back(std::async(std::launch::async, [fd = fds[i], i, bytes] {
      if (fd < 0) return false;
      bool ok = false;
      if (ReadLine(fd).rfind("ERROR", 0) != 0) {
        const std::string payload = Pattern(bytes, static_cast<uint32_t>(i));
        const RoundTrip r = EchoRoundTrip(fd, payload, payload.size());
        ok = r.ok && r.received == payload;
      }
      close(fd);
      return ok;
    }));
  }
  int ok = 0;
  for (auto& f : results) ok += f.get();
  return ok;
}

TestBackend::TestBackend(std::string name, std::string ip, int tcp_port, int udp_port, Mode mode,
                         Transport stream)
    : name_(std::move(name)), ip_(std::move(ip)), port_(tcp_port), mode_(mode) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  sockaddr_storage ss;
  socklen_t len;
  if (!MakeSockaddr(ip_, tcp_port, &ss, &len)) return;
  const int one = 1;
  const int t = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
                       stream == Transport::kSctp ? IPPROTO_SCTP : 0);
  if (t < 0) return;
  setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(t, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(t, 1024) != 0) {
    close(t);
    return;
  }
  if (udp_port > 0) {
    MakeSockaddr(ip_, udp_port, &ss, &len);
    udp_fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (bind(udp_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      close(udp_fd_);
      close(t);
      udp_fd_ = -1;
      return;
    }
    udp_thread_ = std::thread([this] { UdpLoop(); });
  }
  tcp_fd_ = t;
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

TestBackend::~TestBackend() {
  const uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  if (accept_thread_.joinable()) accept_thread_.join();
  if (udp_thread_.joinable()) udp_thread_.join();
  // Connections still being served hold no reference to this object beyond their own state.
  for (int i = 0; i < 500 && serving_.load() > 0; ++i) usleep(10000);
  if (tcp_fd_ >= 0) close(tcp_fd_);
  if (udp_fd_ >= 0) close(udp_fd_);
  close(stop_fd_);
}

void TestBackend::AcceptLoop() {
  for (;;) {
    pollfd p[2] = {{tcp_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents) return;
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    const int c = accept4(tcp_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (c < 0) continue;
    ++accepted_;
    ++serving_;
    std::thread([this, c, text = SockaddrText(peer)] { Serve(c, text); }).detach();
  }
}

void TestBackend::Serve(int fd, std::string peer) {
  SetTimeouts(fd);
  const std::string greeting = name_ + " " + peer + "\n";
  char buf[65536];
  if (mode_ == Mode::kCount) {
    uint64_t bytes = 0, h = 1469598103934665603ull;
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      bytes += static_cast<uint64_t>(n);
      h = Fnv(buf, static_cast<size_t>(n), h);
    }
    SendAll(fd, name_ + " " + std::to_string(bytes) + " " + std::to_string(h) + "\n");
  } else if (mode_ == Mode::kReset) {
    SendAll(fd, greeting);
    (void)!recv(fd, buf, 1, 0);
    const linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  } else if (SendAll(fd, greeting)) {
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0 || !SendAll(fd, buf, static_cast<size_t>(n))) break;
    }
  }
  close(fd);
  --serving_;
}

void TestBackend::UdpLoop() {
  for (;;) {
    pollfd p[2] = {{udp_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents) return;
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    char buf[2048];
    const ssize_t n =
        recvfrom(udp_fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len);
    if (n < 0) continue;
    const std::string reply =
        name_ + " " + SockaddrText(peer) + " " + std::string(buf, static_cast<size_t>(n));
    sendto(udp_fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
  }
}

}  // namespace kpx::testing
