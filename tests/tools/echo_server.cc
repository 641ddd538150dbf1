// kpx-echo-server NAME [--tcp PORT]... [--udp PORT]... [--sctp PORT]... [--bind IP]
//
// Answers every TCP or SCTP connection with "NAME <client-ip>:<client-port>\n" and then echoes
// what the client sends until it closes; answers every UDP datagram with "NAME
// <client-ip>:<port>\n". Reporting the peer address lets tests check whether a connection was
// masqueraded.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/socket_address.h"

namespace {

struct Wanted {
  int type;      // SOCK_STREAM or SOCK_DGRAM
  int protocol;  // 0, or IPPROTO_SCTP (one-to-one style: served like TCP)
  int port;
  const char* name;
};

int Listen(const Wanted& w, const std::string& bind_ip) {
  const int type = w.type;
  const int port = w.port;
  // A dual-stack socket on :: serves IPv4 and IPv6 clients alike.
  const bool v4 = bind_ip.find(':') == std::string::npos && !bind_ip.empty();
  int fd = socket(v4 ? AF_INET : AF_INET6, type, w.protocol);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (v4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, bind_ip.c_str(), &a->sin_addr);
    len = sizeof(*a);
  } else {
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (!bind_ip.empty()) inet_pton(AF_INET6, bind_ip.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return -1;
  if (type == SOCK_STREAM && listen(fd, 1024) != 0) return -1;
  return fd;
}

void ServeTcpConnection(int fd, std::string greeting) {
  if (write(fd, greeting.data(), greeting.size()) < 0) {
    close(fd);
    return;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    ssize_t off = 0;
    while (off < n) {
      const ssize_t w = write(fd, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) break;
      off += w;
    }
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s NAME [--tcp PORT]... [--udp PORT]... [--sctp PORT]... [--bind IP]\n",
                 argv[0]);
    return 2;
  }
  const std::string name = argv[1];
  std::string bind_ip;
  std::vector<Wanted> wanted;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tcp") {
      wanted.push_back({SOCK_STREAM, 0, std::atoi(argv[i + 1]), "tcp"});
    } else if (flag == "--udp") {
      wanted.push_back({SOCK_DGRAM, 0, std::atoi(argv[i + 1]), "udp"});
    } else if (flag == "--sctp") {
      wanted.push_back({SOCK_STREAM, IPPROTO_SCTP, std::atoi(argv[i + 1]), "sctp"});
    } else if (flag == "--bind") {
      bind_ip = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::vector<pollfd> fds;
  std::vector<int> types;
  for (const Wanted& w : wanted) {
    const int fd = Listen(w, bind_ip);
    if (fd < 0) {
      std::fprintf(stderr, "cannot listen on %s port %d: %s\n", w.name, w.port,
                   std::strerror(errno));
      return 1;
    }
    fds.push_back({fd, POLLIN, 0});
    types.push_back(w.type);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      if (types[i] == SOCK_STREAM) {
        const int c = accept(fds[i].fd, reinterpret_cast<sockaddr*>(&peer), &len);
        if (c < 0) continue;
        std::thread(ServeTcpConnection, c, name + " " + kpx::testing::SockaddrText(peer) + "\n")
            .detach();
      } else {
        char buf[2048];
        const ssize_t n =
            recvfrom(fds[i].fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len);
        if (n < 0) continue;
        const std::string reply = name + " " + kpx::testing::SockaddrText(peer) + "\n";
        sendto(fds[i].fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
      }
    }
  }
}
