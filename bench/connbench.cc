// kpx-connbench: the benchmark's TCP load client and its backend server.
//
//   kpx-connbench serve --port P [--port P]...
//       Echo server for any number of ports: one thread, epoll, non-blocking sockets. Prints
//       "ready" once listening. Runs until killed.
//
//   kpx-connbench conn (--dst IP | --range FIRST_IP COUNT) --port P --duration-ms D
//                      [--max-conns M] [--timeout-ms T] [--payload B] [--seed S] [--header]
//       New connections, one after the other, for D ms (or M connections): connect, send B bytes,
//       read them back, close with a reset (SO_LINGER 0, so neither side keeps TIME_WAIT and
//       thousands of connections stay cheap). With --range every connection goes to a uniformly
//       random address in [FIRST_IP, FIRST_IP + COUNT). Prints one CSV row:
//       conns,errors,seconds,conn_per_s,connect_p50_us,connect_p99_us,txn_p50_us,txn_p99_us
//       where connect is the connect() handshake (the SYN is what walks the NAT rules) and txn is
//       connect + first request/response (what a client waits for, also through a userspace
//       proxy, whose own upstream connect happens after the client's handshake).
//
//   kpx-connbench rr --dst IP --port P --conns C --duration-ms D [--payload B] [--header]
//       Request/response on C established connections (one request in flight on each) for D ms.
//       Prints: conns,requests,errors,seconds,req_per_s,rtt_p50_us,rtt_p99_us
//
// Exit status: 0 when at least one connection (request) succeeded, 1 otherwise, 2 usage.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<int> ports;
  uint32_t dst = 0;  // host order
  uint32_t range_count = 0;
  long duration_ms = 1000;
  long max_conns = 0;  // 0: no limit
  int timeout_ms = 1000;
  int payload = 64;
  int conns = 1;
  unsigned seed = 1;
  bool header = false;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "kpx-connbench: %s\nusage: kpx-connbench serve --port P [--port P]...\n"
               "       kpx-connbench conn (--dst IP | --range IP COUNT) --port P --duration-ms D "
               "[--max-conns M] [--timeout-ms T] [--payload B] [--seed S] [--header]\n"
               "       kpx-connbench rr --dst IP --port P --conns C --duration-ms D "
               "[--payload B] [--header]\n",
               why.c_str());
  std::exit(2);
}

long Micros(Clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// The q-quantile (0..1) of `v` (reorders it); 0 for an empty vector.
long Quantile(std::vector<long>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

sockaddr_in Addr(uint32_t ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

// Waits for `events` on fd until `deadline`; false on timeout or error.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const long left_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left_ms < 0) return false;
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, static_cast<int>(left_ms) + 1);
    if (r > 0) return (p.revents & events) != 0 || (p.revents & (POLLERR | POLLHUP)) == 0;
    if (r == 0) continue;  // re-check the deadline
    if (errno != EINTR) return false;
  }
}

// Sends `len` bytes and reads `len` bytes back, with a deadline; false on any failure.
bool RoundTrip(int fd, const char* out, char* in, int len, Clock::time_point deadline) {
  int sent = 0;
  while (sent < len) {
    const ssize_t n = send(fd, out + sent, static_cast<size_t>(len - sent), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<int>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  int got = 0;
  while (got < len) {
    const ssize_t n = recv(fd, in + got, static_cast<size_t>(len - got), 0);
    if (n > 0) {
      got += static_cast<int>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd, POLLIN, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

void CloseWithReset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

int RunConn(const Options& o) {
  if (o.ports.size() != 1 || o.dst == 0) Usage("conn needs --dst or --range, and one --port");
  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<uint32_t> pick(0, o.range_count > 0 ? o.range_count - 1 : 0);
  std::vector<char> out(static_cast<size_t>(o.payload), 'x');
  std::vector<char> in(static_cast<size_t>(o.payload));
  std::vector<long> connect_us;
  std::vector<long> txn_us;
  long errors = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::milliseconds(o.duration_ms);
  while (Clock::now() < end &&
         (o.max_conns == 0 || static_cast<long>(txn_us.size()) + errors < o.max_conns)) {
    const uint32_t ip = o.range_count > 0 ? o.dst + pick(rng) : o.dst;
    const sockaddr_in a = Addr(ip, o.ports[0]);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      std::perror("socket");
      return 1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point deadline = t0 + std::chrono::milliseconds(o.timeout_ms);
    bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
    if (!ok && errno == EINPROGRESS && WaitFor(fd, POLLOUT, deadline)) {
      int err = 0;
      socklen_t len = sizeof(err);
      ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    const Clock::time_point t1 = Clock::now();
    ok = ok && RoundTrip(fd, out.data(), in.data(), o.payload, deadline);
    const Clock::time_point t2 = Clock::now();
    CloseWithReset(fd);
    if (ok) {
      connect_us.push_back(Micros(t1 - t0));
      txn_us.push_back(Micros(t2 - t0));
    } else {
      ++errors;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const size_t conns = txn_us.size();
  if (o.header) {
    std::printf(
        "conns,errors,seconds,conn_per_s,connect_p50_us,connect_p99_us,txn_p50_us,"
        "txn_p99_us\n");
  }
  std::printf("%zu,%ld,%.3f,%.1f,%ld,%ld,%ld,%ld\n", conns, errors, seconds,
              static_cast<double>(conns) / seconds, Quantile(connect_us, 0.5),
              Quantile(connect_us, 0.99), Quantile(txn_us, 0.5), Quantile(txn_us, 0.99));
  return conns > 0 ? 0 : 1;
}

int RunRr(const Options& o) {
  if (o.ports.size() != 1 || o.dst == 0 || o.range_count > 0) Usage("rr needs --dst and --port");
  const sockaddr_in a = Addr(o.dst, o.ports[0]);
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::milliseconds(o.duration_ms);
  std::vector<int> fds;
  long errors = 0;
  for (int i = 0; i < o.conns; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    timeval tv{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
      ++errors;
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SetNonBlocking(fd);
    fds.push_back(fd);
  }
  std::vector<char> out(static_cast<size_t>(o.payload), 'y');
  std::vector<char> in(static_cast<size_t>(o.payload));
  std::vector<long> rtt_us;
  // Requests go round-robin over the connections: each has one request in flight at a time.
  while (!fds.empty() && Clock::now() < end) {
    for (size_t i = 0; i < fds.size();) {
      const Clock::time_point t0 = Clock::now();
      if (RoundTrip(fds[i], out.data(), in.data(), o.payload,
                    t0 + std::chrono::milliseconds(o.timeout_ms))) {
        rtt_us.push_back(Micros(Clock::now() - t0));
        ++i;
      } else {
        ++errors;
        close(fds[i]);
        fds.erase(fds.begin() + static_cast<long>(i));
      }
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (int fd : fds) CloseWithReset(fd);
  if (o.header) std::printf("conns,requests,errors,seconds,req_per_s,rtt_p50_us,rtt_p99_us\n");
  const size_t requests = rtt_us.size();
  std::printf("%d,%zu,%ld,%.3f,%.1f,%ld,%ld\n", o.conns, requests, errors, seconds,
              static_cast<double>(requests) / seconds, Quantile(rtt_us, 0.5),
              Quantile(rtt_us, 0.99));
  return requests > 0 ? 0 : 1;
}

int Listen(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const sockaddr_in a = Addr(INADDR_ANY, port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 4096) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int RunServe(const Options& o) {
  if (o.ports.empty()) Usage("serve needs --port");
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> listeners;
  for (int port : o.ports) {
    const int fd = Listen(port);
    if (fd < 0) {
      std::fprintf(stderr, "kpx-connbench: cannot listen on %d: %s\n", port, std::strerror(errno));
      return 1;
    }
    listeners.push_back(fd);
    // Listener events carry the fd with the top bit set to tell them from connections.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (1ULL << 63) | static_cast<uint64_t>(fd);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<epoll_event> events(256);
  std::vector<char> buf(65536);
  for (;;) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[static_cast<size_t>(i)].data.u64;
      const int fd = static_cast<int>(tag & 0xffffffff);
      if ((tag >> 63) != 0) {
        for (;;) {
          const int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = static_cast<uint64_t>(c);
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
        }
        continue;
      }
      // Echo what arrived. Requests are small, so a short write means a broken peer: drop it.
      const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0 || send(fd, buf.data(), static_cast<size_t>(r), MSG_NOSIGNAL) != r) close(fd);
    }
  }
}

uint32_t ParseIpOrDie(const char* text) {
  in_addr a{};
  if (inet_pton(AF_INET, text, &a) != 1) Usage(std::string("bad IPv4 address ") + text);
  return ntohl(a.s_addr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage("missing command");
  const std::string cmd = argv[1];
  Options o;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--header") {
      o.header = true;
      continue;
    }
    if (i + 1 >= argc) Usage("missing value for " + flag);
    const char* v = argv[++i];
    if (flag == "--port") {
      o.ports.push_back(std::atoi(v));
    } else if (flag == "--dst") {
      o.dst = ParseIpOrDie(v);
    } else if (flag == "--range") {
      o.dst = ParseIpOrDie(v);
      if (i + 1 >= argc) Usage("--range needs IP COUNT");
      o.range_count = static_cast<uint32_t>(std::atol(argv[++i]));
      if (o.range_count == 0) Usage("--range COUNT must be positive");
    } else if (flag == "--duration-ms") {
      o.duration_ms = std::atol(v);
    } else if (flag == "--max-conns") {
      o.max_conns = std::atol(v);
    } else if (flag == "--timeout-ms") {
      o.timeout_ms = std::atoi(v);
    } else if (flag == "--payload") {
      o.payload = std::clamp(std::atoi(v), 1, 65536);
    } else if (flag == "--conns") {
      o.conns = std::clamp(std::atoi(v), 1, 1024);
    } else if (flag == "--seed") {
      o.seed = static_cast<unsigned>(std::atol(v));
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (cmd == "serve") return RunServe(o);
  if (cmd == "conn") return RunConn(o);
  if (cmd == "rr") return RunRr(o);
  Usage("unknown command " + cmd);
}
