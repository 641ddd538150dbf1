// kpx-loadgen: the load client and backend for bench/userspace/run.sh, so that kpx's relay and
// HAProxy are measured with the identical client against the identical backend.
//
//   kpx-loadgen server --listen IP:PORT
//       Backend. A connection whose first byte is 'S' gets an endless stream of bytes until the
//       client closes; one whose first byte is 'R' gets a 64-byte reply, then the server closes.
//   kpx-loadgen bulk --target IP:PORT [--conns N] [--seconds S]
//       N streaming connections; prints "MiBps <value>" (payload received per second).
//   kpx-loadgen conn --target IP:PORT [--conns N] [--seconds S]
//       N connections in flight, each: connect, send 'R', read the reply to EOF, close, repeat;
//       prints "connps <value> errors <count>".
//
// Single-threaded epoll loops, bounded by --seconds; exit status 1 on setup errors.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  std::string addr;
  int conns = 4;
  double seconds = 3;
};

bool ParseAddr(const std::string& text, sockaddr_in* out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *out = {};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1)));
  return inet_pton(AF_INET, text.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

int Fail(const char* what) {
  std::fprintf(stderr, "kpx-loadgen: %s: %s\n", what, std::strerror(errno));
  return 1;
}

// --- server ---------------------------------------------------------------------------------

struct ServerConn {
  enum { kNew, kStreaming, kDone } state = kNew;
};

int Server(const Args& a) {
  sockaddr_in addr;
  if (!ParseAddr(a.addr, &addr)) return Fail("bad --listen");
  const int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Fail("bind");
  if (listen(l, 4096) != 0) return Fail("listen");
  const int ep = epoll_create1(0);
  epoll_event ev{EPOLLIN, {.fd = l}};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  std::vector<char> block(256 << 10, 'x');
  char reply[64];
  std::memset(reply, 'r', sizeof(reply));
  std::unordered_map<int, ServerConn> conns;
  std::printf("ready\n");
  std::fflush(stdout);
  epoll_event events[256];
  for (;;) {
    const int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == l) {
        for (;;) {
          const int c = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event cev{EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c] = ServerConn{};
        }
        continue;
      }
      ServerConn& c = conns[fd];
      bool close_it = (events[i].events & (EPOLLERR | EPOLLHUP)) != 0;
      if (!close_it && c.state == ServerConn::kNew) {
        char b;
        const ssize_t r = recv(fd, &b, 1, 0);
        if (r == 1 && b == 'R') {
          (void)!send(fd, reply, sizeof(reply), MSG_NOSIGNAL);
          close_it = true;
        } else if (r == 1) {
          c.state = ServerConn::kStreaming;
        } else if (r == 0 || errno != EAGAIN) {
          close_it = true;
        }
      }
      if (!close_it && c.state == ServerConn::kStreaming) {
        if (events[i].events & EPOLLRDHUP) {
          close_it = true;
        } else {
          for (;;) {
            const ssize_t w = send(fd, block.data(), block.size(), MSG_NOSIGNAL);
            if (w < 0) {
              if (errno != EAGAIN) close_it = true;
              break;
            }
          }
        }
      }
      if (close_it) {
        close(fd);
        conns.erase(fd);
      }
    }
  }
}

// --- clients --------------------------------------------------------------------------------

int Bulk(const Args& a) {
  sockaddr_in addr;
  if (!ParseAddr(a.addr, &addr)) return Fail("bad --target");
  const int ep = epoll_create1(0);
  std::vector<int> fds;
  for (int i = 0; i < a.conns; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Fail("connect");
    if (send(fd, "S", 1, 0) != 1) return Fail("send");
    epoll_event ev{EPOLLIN, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  std::vector<char> buf(256 << 10);
  // Skip the ramp-up: count from 10% of the run on.
  const auto start = Clock::now();
  const auto warm = start + std::chrono::duration<double>(a.seconds * 0.1);
  const auto end = start + std::chrono::duration<double>(a.seconds);
  uint64_t bytes = 0;
  bool counting = false;
  epoll_event events[64];
  for (;;) {
    const auto now = Clock::now();
    if (now >= end) break;
    if (!counting && now >= warm) {
      counting = true;
      bytes = 0;
    }
    const int n = epoll_wait(ep, events, 64, 100);
    for (int i = 0; i < n; ++i) {
      const ssize_t r = recv(events[i].data.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (r > 0) bytes += static_cast<uint64_t>(r);
      if (r == 0) return Fail("server closed");
    }
  }
  const double secs = std::chrono::duration<double>(end - warm).count();
  std::printf("MiBps %.1f\n", static_cast<double>(bytes) / secs / (1 << 20));
  for (int fd : fds) close(fd);
  return 0;
}

int Conn(const Args& a) {
  sockaddr_in addr;
  if (!ParseAddr(a.addr, &addr)) return Fail("bad --target");
  const int ep = epoll_create1(0);
  uint64_t done = 0, errors = 0;
  auto open_one = [&]() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
        errno != EINPROGRESS) {
      close(fd);
      return false;
    }
    epoll_event ev{EPOLLOUT | EPOLLIN | EPOLLRDHUP, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return true;
  };
  std::unordered_map<int, bool> sent;
  const auto end = Clock::now() + std::chrono::duration<double>(a.seconds);
  int in_flight = 0;
  for (int i = 0; i < a.conns; ++i) in_flight += open_one();
  epoll_event events[256];
  char buf[256];
  const auto start = Clock::now();
  while (Clock::now() < end) {
    const int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      bool finished = false, failed = false;
      if (events[i].events & EPOLLERR) {
        failed = true;
      } else {
        if (!sent[fd] && (events[i].events & EPOLLOUT)) {
          if (send(fd, "R", 1, MSG_NOSIGNAL) != 1) failed = true;
          sent[fd] = true;
          epoll_event ev{EPOLLIN | EPOLLRDHUP, {.fd = fd}};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
        if (!failed && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
          for (;;) {
            const ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r > 0) continue;
            if (r == 0) finished = true;
            if (r < 0 && errno != EAGAIN) failed = true;
            break;
          }
        }
      }
      if (finished || failed) {
        close(fd);
        sent.erase(fd);
        --in_flight;
        if (finished) ++done;
        if (failed) ++errors;
        in_flight += open_one();
      }
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("connps %.0f errors %llu\n", static_cast<double>(done) / secs,
              static_cast<unsigned long long>(errors));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s server|bulk|conn [--listen|--target IP:PORT] [--conns N] "
                 "[--seconds S]\n",
                 argv[0]);
    return 2;
  }
  Args a;
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    if (f == "--listen" || f == "--target") {
      a.addr = argv[i + 1];
    } else if (f == "--conns") {
      a.conns = std::atoi(argv[i + 1]);
    } else if (f == "--seconds") {
      a.seconds = std::atof(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (a.mode == "server") return Server(a);
  if (a.mode == "bulk") return Bulk(a);
  if (a.mode == "conn") return Conn(a);
  std::fprintf(stderr, "unknown mode %s\n", a.mode.c_str());
  return 2;
}
