#include "proxier/server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace kpx {
namespace {

// A fixed address plan: the server listens on loopback; an attacker connects from 127.0.0.1 and
// a well-behaved prober from 127.0.0.2 (every 127/8 address is local on lo).
constexpr char kAttacker[] = "127.0.0.1";
constexpr char kProber[] = "127.0.0.2";

// Fills `out` with ip:port; false when `ip` is no address.
bool MakeAddress(const std::string& ip, int port, sockaddr_storage* out, socklen_t* len) {
  *out = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// A connected socket to ip:port (from `source` when set), or -1.
int Connect(const std::string& ip, int port, const std::string& source = "") {
  sockaddr_storage to;
  socklen_t to_len;
  if (!MakeAddress(ip, port, &to, &to_len)) return -1;
  const int fd = socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (!source.empty()) {
    sockaddr_storage from;
    socklen_t from_len;
    if (!MakeAddress(source, 0, &from, &from_len) ||
        bind(fd, reinterpret_cast<sockaddr*>(&from), from_len) != 0) {
      close(fd);
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// One raw HTTP/1.0 exchange; returns the whole response.
std::string Get(const std::string& ip, int port, const std::string& method, const std::string& path,
                const std::string& source = "") {
  const int fd = Connect(ip, port, source);
  if (fd < 0) return "connect failed";
  const std::string req = method + " " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out = ReadAll(fd);
  close(fd);
  return out;
}
std::string Get(int port, const std::string& method, const std::string& path) {
  return Get("127.0.0.1", port, method, path);
}

// The port of a server started on port 0.
HttpServer::Response Ok(const std::string& path) {
  return HttpServer::Response{200, "text/plain", "ok " + path, {}};
}

// Peak resident memory of this process since the last ResetPeakRss(), in bytes.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }
int64_t PeakRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// Sends `head` and then up to `bytes` of filler until the server stops reading; returns the bytes
// the server took before closing (or all of them).
int64_t Flood(int fd, const std::string& head, int64_t bytes) {
  if (write(fd, head.data(), head.size()) < 0) return 0;
  const std::string chunk(1 << 20, 'a');
  int64_t sent = 0;
  while (sent < bytes) {
    const ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += n;
  }
  return sent;
}

TEST(HttpServerTest, ServesRoutesFallbackAndRejectsOtherMethods) {
  HttpServer server("127.0.0.1:0");
  server.Route("/healthz", [](const std::string&) {
    return HttpServer::Response{503, "application/json", "{\"ok\":false}", {{"X-Test", "1"}}};
  });
  ASSERT_TRUE(server.Start().ok());
  const int port = server.port();
  ASSERT_GT(port, 0);

  const std::string health = Get(port, "GET", "/healthz");
  EXPECT_NE(health.find(" 503 "), std::string::npos) << health;
  EXPECT_NE(health.find("X-Test: 1"), std::string::npos) << health;
  EXPECT_NE(health.find("{\"ok\":false}"), std::string::npos) << health;
  const std::string head = Get(port, "HEAD", "/healthz");
  EXPECT_NE(head.find(" 503 "), std::string::npos) << head;
  EXPECT_EQ(head.find("{\"ok\":false}"), std::string::npos) << head;

  EXPECT_NE(Get(port, "GET", "/nope").find(" 404 "), std::string::npos);
  const std::string post = Get(port, "POST", "/healthz");
  EXPECT_NE(post.find(" 405 "), std::string::npos) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD"), std::string::npos) << post;

  server.Fallback(Ok);
  EXPECT_NE(Get(port, "GET", "/x/y").find("ok /x/y"), std::string::npos);
  EXPECT_NE(Get(port, "GET", "/x/y?a=b").find("ok /x/y"), std::string::npos);

  server.Stop();
  EXPECT_EQ(Get(port, "GET", "/healthz"), "connect failed");
}

TEST(HttpServerTest, BusyAddressIsAnErrorNotACrash) {
  HttpServer a("127.0.0.1:0");
  a.Route("/", [](const std::string&) { return HttpServer::Response{200, "text/plain", "a", {}}; });
  ASSERT_TRUE(a.Start().ok());
  HttpServer b("127.0.0.1:" + std::to_string(a.port()));
  const Status st = b.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot serve HTTP on 127.0.0.1:"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("in use"), std::string::npos) << st.message();
  // The failed attempt must not have disturbed the server that owns the port.
  EXPECT_NE(Get(a.port(), "GET", "/").find("\r\n\r\na"), std::string::npos);
}

TEST(HttpServerTest, PortHeldByAnotherSocketIsAnError) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  HttpServer server("127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  EXPECT_FALSE(server.Start().ok());
  close(fd);
}

TEST(HttpServerTest, MalformedAddressesAreClearErrors) {
  for (const char* bad : {"1.2.3:80", "[::1]", "::1:80", "127.0.0.1:", "127.0.0.1:70000",
                          "localhost:80", "[127.0.0.1]:80", "127.0.0.1:8x"}) {
    HttpServer server(bad);
    const Status st = server.Start();
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find(bad), std::string::npos) << st.message();
  }
}

// kube-proxy's defaults with bindAddress "::" are [::]:10256 and [::1]:10249; Go's "[::]" also
// takes IPv4 connections, and so must kpx's.
TEST(HttpServerTest, ListensOnIpv6LoopbackAndDualStackWildcard) {
  HttpServer loopback("[::1]:0");
  loopback.Fallback(Ok);
  ASSERT_TRUE(loopback.Start().ok()) << loopback.Start().message();
  EXPECT_NE(Get("::1", loopback.port(), "GET", "/a").find("ok /a"), std::string::npos);
  EXPECT_EQ(Get("127.0.0.1", loopback.port(), "GET", "/a"), "connect failed");

  HttpServer wildcard("[::]:0");
  wildcard.Fallback(Ok);
  const Status st = wildcard.Start();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_NE(Get("::1", wildcard.port(), "GET", "/b").find("ok /b"), std::string::npos);
  EXPECT_NE(Get("127.0.0.1", wildcard.port(), "GET", "/c").find("ok /c"), std::string::npos);
}

// Issue 17 item 1: one unauthenticated connection sending a huge body must not grow memory.
TEST(HttpServerTest, RequestBodyIsNotBuffered) {
  HttpServer server("127.0.0.1:0");
  server.Fallback(Ok);
  ASSERT_TRUE(server.Start().ok());
  const int fd = Connect("127.0.0.1", server.port());
  ASSERT_GE(fd, 0);
  ResetPeakRss();
  const int64_t before = PeakRss();
  constexpr int64_t kBody = 512LL << 20;
  Flood(fd,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n",
        kBody);
  close(fd);
  EXPECT_NE(Get(server.port(), "GET", "/healthz").find("ok /healthz"), std::string::npos);
  const int64_t growth = PeakRss() - before;
  EXPECT_LT(growth, 32LL << 20) << "peak RSS grew by " << growth << " bytes";
}

TEST(HttpServerTest, OversizedHeadersAreRefusedWithoutBuffering) {
  HttpServer server("127.0.0.1:0");
  server.Fallback(Ok);
  ASSERT_TRUE(server.Start().ok());
  const int fd = Connect("127.0.0.1", server.port());
  ASSERT_GE(fd, 0);
  ResetPeakRss();
  const int64_t before = PeakRss();
  constexpr int64_t kHeader = 256LL << 20;
  const int64_t taken = Flood(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", kHeader);
  shutdown(fd, SHUT_WR);
  const std::string answer = ReadAll(fd);
  close(fd);
  EXPECT_LT(taken, kHeader) << "the server read the whole header";
  EXPECT_EQ(answer.find(" 200 "), std::string::npos) << answer;
  const int64_t growth = PeakRss() - before;
  EXPECT_LT(growth, 32LL << 20) << "peak RSS grew by " << growth << " bytes";
  EXPECT_GT(server.stats().requests_refused.load(), 0u);
  EXPECT_NE(Get(server.port(), "GET", "/healthz").find("ok /healthz"), std::string::npos);
}

// Issue 17 item 2: a thousand idle connections from one client must not stop other clients.
TEST(HttpServerTest, IdleConnectionsFromOneClientDoNotStarveOthers) {
  HttpServer::Options options;
  options.max_connections_per_client = 16;
  HttpServer server("127.0.0.1:0", options);
  server.Fallback(Ok);
  ASSERT_TRUE(server.Start().ok());
  std::vector<int> idle;
  for (int i = 0; i < 900; ++i) {
    const int fd = Connect(kAttacker, server.port(), kAttacker);
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_GT(idle.size(), 100u);
  EXPECT_NE(Get("127.0.0.1", server.port(), "GET", "/p", kProber).find("ok /p"), std::string::npos);
  EXPECT_LE(server.stats().connections.load(), 16u + 1u);
  EXPECT_GT(server.stats().connections_refused.load(), 0u);
  for (int fd : idle) close(fd);
}

// Issue 17 item 2: out of file descriptors, accept() fails with EMFILE. The server backs off
// (instead of retrying in a busy loop), counts it, and serves the waiting client once fds are
// free again.
TEST(HttpServerTest, AcceptBacksOffWhenOutOfFileDescriptors) {
  HttpServer server("127.0.0.1:0");
  server.Fallback(Ok);
  ASSERT_TRUE(server.Start().ok());
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Leave exactly one descriptor: the client's own socket.
  std::vector<int> fillers;
  while (true) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    fillers.push_back(fd);
    if (fillers.size() > 100000) break;
  }
  ASSERT_FALSE(fillers.empty());
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(fillers.back()) + 1;  // nothing above the last filler
  close(fillers.back());
  fillers.pop_back();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  const int client = Connect("127.0.0.1", server.port());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const uint64_t failures = server.stats().accept_failures.load();
  for (int fd : fillers) close(fd);
  setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_GE(client, 0);
  EXPECT_GT(failures, 0u);
  // Without backoff this is a retry per wakeup: millions in two seconds.
  EXPECT_LT(failures, 100u);
  const std::string req = "GET /late HTTP/1.0\r\n\r\n";
  ASSERT_EQ(write(client, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  EXPECT_NE(ReadAll(client).find("ok /late"), std::string::npos);
  close(client);
}

// A client that sends a request header one byte at a time, each byte well within the idle
// timeout, and never finishes it. Dripping runs on its own thread until the server closes the
// connection (or the test ends).
class Dripper {
 public:
  Dripper(int port, std::chrono::milliseconds interval) {
    fd_ = Connect(kAttacker, port, kAttacker);
    if (fd_ >= 0) thread_ = std::thread([this, interval] { Run(interval); });
  }
  ~Dripper() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  bool closed() const { return closed_; }
  // True once the server closed the connection; false if `limit` passed first.
  bool WaitClosed(std::chrono::seconds limit) const {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!closed_ && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return closed_;
  }

 private:
  void Run(std::chrono::milliseconds interval) {
    const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ";
    if (send(fd_, head.data(), head.size(), MSG_NOSIGNAL) < 0) {
      closed_ = true;
      return;
    }
    while (!stop_) {
      pollfd p{fd_, POLLIN | POLLRDHUP, 0};
      if (poll(&p, 1, static_cast<int>(interval.count())) > 0) {
        char buf[512];
        if (recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) <= 0) break;  // closed or reset
        continue;                                                   // an answer: read on
      }
      if (send(fd_, "a", 1, MSG_NOSIGNAL) != 1) break;
    }
    if (!stop_) closed_ = true;
  }

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> closed_{false};
  std::thread thread_;
};

HttpServer::Options DripTestOptions() {
  HttpServer::Options options;
  options.max_connections = 4;
  options.max_connections_per_client = 4;
  options.idle_timeout = std::chrono::seconds(3);
  options.request_deadline = std::chrono::milliseconds(1500);
  return options;
}

// Issue 17 item 1 ("time out slow clients"): an idle timeout is not enough against a client that
// drips a header byte by byte; the whole request has a deadline, and /healthz keeps answering.
TEST(HttpServerTest, DrippingClientIsClosedAtTheRequestDeadline) {
  HttpServer server("127.0.0.1:0", DripTestOptions());
  server.Fallback(Ok);
  ASSERT_TRUE(server.Start().ok());
  Dripper dripper(server.port(), std::chrono::milliseconds(300));
  ASSERT_TRUE(dripper.connected());
  // Served meanwhile, from another address.
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(Get("127.0.0.1", server.port(), "GET", "/healthz", kProber).find("ok /healthz"),
              std::string::npos);
  }
  EXPECT_TRUE(dripper.WaitClosed(std::chrono::seconds(15)))
      << "a dripping client kept its connection well past the request deadline";
  EXPECT_GE(server.stats().requests_timed_out.load(), 1u);
  EXPECT_NE(Get("127.0.0.1", server.port(), "GET", "/after", kProber).find("ok /after"),
            std::string::npos);
}

// A slow but finite client is served: the deadline bounds the whole request, not each read.
TEST(HttpServerTest, SlowClientWithinTheDeadlineIsServed) {
  HttpServer server("127.0.0.1:0", DripTestOptions());
  server.Fallback(Ok);
  ASSERT_TRUE(server.Start().ok());
  const int fd = Connect("127.0.0.1", server.port(), kProber);
  ASSERT_GE(fd, 0);
  const std::string request = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
  const size_t third = request.size() / 3 + 1;
  for (size_t i = 0; i < request.size(); i += third) {
    const std::string piece = request.substr(i, third);
    ASSERT_EQ(send(fd, piece.data(), piece.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(piece.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(ReadAll(fd).find("ok /slow"), std::string::npos);
  close(fd);
  EXPECT_EQ(server.stats().requests_timed_out.load(), 0u);
}

// With the connection cap full of drippers, new clients are refused until the deadline evicts
// them; then a new client is served.
TEST(HttpServerTest, DrippersFillingTheConnectionCapAreEvictedByTheDeadline) {
  HttpServer server("127.0.0.1:0", DripTestOptions());
  server.Fallback(Ok);
  ASSERT_TRUE(server.Start().ok());
  std::vector<std::unique_ptr<Dripper>> drippers;
  for (int i = 0; i < 4; ++i) {
    drippers.push_back(std::make_unique<Dripper>(server.port(), std::chrono::milliseconds(300)));
    ASSERT_TRUE(drippers.back()->connected());
  }
  for (int i = 0; i < 100 && server.stats().connections.load() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(server.stats().connections.load(), 4u);
  EXPECT_EQ(Get("127.0.0.1", server.port(), "GET", "/full", kProber).find("ok /full"),
            std::string::npos)
      << "the cap was not full";
  for (auto& d : drippers) {
    EXPECT_TRUE(d->WaitClosed(std::chrono::seconds(15)));
  }
  EXPECT_GE(server.stats().requests_timed_out.load(), 4u);
  EXPECT_NE(Get("127.0.0.1", server.port(), "GET", "/free", kProber).find("ok /free"),
            std::string::npos);
}

}  // namespace
}  // namespace kpx
