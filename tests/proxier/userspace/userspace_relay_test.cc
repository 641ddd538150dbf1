// The relay core on loopback with real sockets: EpollRelayEngine serving frontends whose
// endpoints are in-process servers on 127.0.0.x. No iptables: clients connect to the listener
// port directly, as the portal rules would redirect them. The backends' ports are fixed, so the
// binary runs in a network namespace of its own (PRIVATE_NETNS in CMakeLists.txt) where another
// run at the same time cannot hold them.
#include "proxier/userspace/epoll_relay_engine.h"
#include "proxier/userspace/socket_address.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "tests/support/traffic.h"

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

using testing::Greeting;
using ::testing::HasSubstr;
using testing::ReadLine;
using ::testing::StartsWith;
using testing::TcpConnect;
using testing::TestBackend;

// IP plan: backends 127.0.0.11-13 (and .21 with nothing listening); clients from 127.0.0.2/.3.
// Backend ports 18080 (TCP) and 18053 (UDP), free in the binary's own network namespace.
constexpr int kPort = 18080;
constexpr int kUdpPort = 18053;
constexpr char kListen[] = "127.0.0.1";

Backend B(const std::string& ip, int port = kPort) {
  return Backend{Ip(ip), static_cast<uint16_t>(port)};
}

FrontendSpec Spec(std::vector<Backend> backends, Protocol protocol = Protocol::kTCP) {
  FrontendSpec spec;
  spec.key.service = {"test", "svc", "", protocol};
  spec.protocol = protocol;
  spec.backends[0] = std::move(backends);
  return spec;
}

// True when a TCP connect to the relay's port is refused, i.e. nothing listens there any more. A
// probe that did connect is closed without reading from it: a connect that races with the
// listener's close can leave the client established with nothing behind it and no reset (the
// kernel silently drops a connection that had not reached the accept queue yet), and a read would
// then wait out the 10 s receive timeout, after which the test backends also give up on the
// connections the test keeps open.
bool ConnectRefused(uint16_t port) {
  const int fd = TcpConnect(kListen, port);
  if (fd < 0) return errno == ECONNREFUSED;
  close(fd);
  return false;
}

// This process's listening TCP socket on `port`, or -1.
int ListeningFd(uint16_t port) {
  for (int fd = 0; fd < 1024; ++fd) {
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    SocketAddress local;
    if (getsockname(fd, local.get(), local.mutable_len()) == 0 && local.port() == port) return fd;
  }
  return -1;
}

// Waits up to 5 s for `pred`.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.families = {IpFamily::kIPv4};
    options_.workers = 2;
    options_.require_portal = false;  // clients connect to the listeners directly
    options_.udp_idle_timeout = std::chrono::milliseconds(500);
  }
  // Starts the engine and one frontend; returns its port.
  uint16_t Serve(const FrontendSpec& spec, int limit = 0) {
    engine_ = std::make_unique<EpollRelayEngine>(options_);
    frontend_ = std::make_shared<Frontend>(spec, limit, std::chrono::milliseconds(1000));
    auto port = engine_->Open(frontend_);
    EXPECT_TRUE(port.ok()) << port.status().message();
    return port.ok() ? *port : 0;
  }
  std::string Name(const std::string& greeting) { return greeting.substr(0, greeting.find(' ')); }

  UserspaceOptions options_;
  std::unique_ptr<EpollRelayEngine> engine_;
  std::shared_ptr<Frontend> frontend_;
};

TEST_F(RelayTest, RoundRobinAcrossBackends) {
  TestBackend a("a", "127.0.0.11", kPort), b("b", "127.0.0.12", kPort), c("c", "127.0.0.13", kPort);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const uint16_t port = Serve(Spec({B("127.0.0.11"), B("127.0.0.12"), B("127.0.0.13")}));
  std::map<std::string, int> seen;
  for (int i = 0; i < 30; ++i) ++seen[Name(Greeting(kListen, port))];
  EXPECT_EQ(seen, (std::map<std::string, int>{{"a", 10}, {"b", 10}, {"c", 10}}));
  // The backend sees kpx's connection, from the loopback address.
  EXPECT_THAT(Greeting(kListen, port), HasSubstr(" 127.0.0.1:"));
  const UserspaceCounters counters = engine_->Counters();
  EXPECT_EQ(counters.accepted, 31u);
  EXPECT_EQ(counters.failed_connects, 0u);
  EXPECT_TRUE(Eventually([&] { return engine_->Counters().active == 0; }));
  EXPECT_EQ(engine_->Counters().listeners, 2u);  // one socket, served by both workers
}

// accept() out of descriptors leaves the connection queued and the socket readable: the listener
// pauses instead of spinning, counts the failure, and serves the client once descriptors are back.
TEST_F(RelayTest, AcceptOutOfDescriptorsPausesAndRecovers) {
  TestBackend a("a", "127.0.0.11", kPort);
  ASSERT_TRUE(a.ok());
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  // Room for the client's socket only: the limit is the second free descriptor number, so the
  // first free one is the only one left.
  int first_free = 0;
  while (fcntl(first_free, F_GETFD) != -1) ++first_free;
  int second_free = first_free + 1;
  while (fcntl(second_free, F_GETFD) != -1) ++second_free;
  rlimit lowered = limit;
  lowered.rlim_cur = static_cast<rlim_t>(second_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const int c = TcpConnect(kListen, port);
  const bool failed = Eventually([&] { return engine_->Counters().accept_failures > 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t failures = engine_->Counters().accept_failures;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(c, 0);
  EXPECT_TRUE(failed);
  // A listener retried in a busy loop fails hundreds of thousands of times in 300 ms; paused, it
  // retries once per sweep and worker.
  EXPECT_LT(failures, 100u);
  EXPECT_THAT(ReadLine(c), StartsWith("a "));
  close(c);
}

TEST_F(RelayTest, ClientIpAffinity) {
  TestBackend a("a", "127.0.0.11", kPort), b("b", "127.0.0.12", kPort), c("c", "127.0.0.13", kPort);
  FrontendSpec spec = Spec({B("127.0.0.11"), B("127.0.0.12"), B("127.0.0.13")});
  spec.affinity_client_ip = true;
  spec.affinity_timeout = std::chrono::seconds(60);
  const uint16_t port = Serve(spec);
  const std::string first = Name(Greeting(kListen, port, "127.0.0.2"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Name(Greeting(kListen, port, "127.0.0.2")), first);
  const std::string other = Name(Greeting(kListen, port, "127.0.0.3"));
  EXPECT_NE(other, first);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Name(Greeting(kListen, port, "127.0.0.3")), other);
}

TEST_F(RelayTest, RetriesPastDeadEndpoint) {
  TestBackend a("a", "127.0.0.11", kPort);
  // 127.0.0.21 has no listener: every connect there is refused.
  const uint16_t port = Serve(Spec({B("127.0.0.21"), B("127.0.0.11")}));
  for (int i = 0; i < 10; ++i) EXPECT_THAT(Greeting(kListen, port), StartsWith("a "));
  const UserspaceCounters c = engine_->Counters();
  EXPECT_EQ(c.failed_connects, 5u);
  EXPECT_EQ(c.retries, 5u);
}

TEST_F(RelayTest, ConnectTimeoutMovesToNextEndpoint) {
  options_.connect_timeout = std::chrono::milliseconds(300);
  TestBackend a("a", "127.0.0.11", kPort);
  // A listener that never accepts, with its one-slot queue filled: further SYNs are dropped, so
  // a connect to it hangs until kpx's connect timeout.
  const int stuck = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SocketAddress addr = SocketAddress::From(Ip("127.0.0.21"), kPort);
  ASSERT_EQ(bind(stuck, addr.get(), addr.len()), 0);
  ASSERT_EQ(listen(stuck, 0), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    const int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)!connect(f, addr.get(), addr.len());
    fillers.push_back(f);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const uint16_t port = Serve(Spec({B("127.0.0.21"), B("127.0.0.11")}));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(Greeting(kListen, port), StartsWith("a "));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(engine_->Counters().failed_connects, 1u);
  EXPECT_EQ(engine_->Counters().retries, 1u);
  for (int f : fillers) close(f);
  close(stuck);
}

TEST_F(RelayTest, AllEndpointsDeadOrNoneResetsTheClient) {
  const uint16_t port = Serve(Spec({B("127.0.0.21"), B("127.0.0.22")}));
  EXPECT_THAT(Greeting(kListen, port), StartsWith("ERROR"));
  frontend_->Update(Spec({}));
  EXPECT_EQ(Greeting(kListen, port), "ERROR reset");
  EXPECT_EQ(engine_->Counters().no_endpoint_rejects, 1u);
}

TEST_F(RelayTest, LargeTransferByteExactBothWays) {
  TestBackend a("a", "127.0.0.11", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const std::string payload = testing::Pattern(64 << 20, 7);
  const int fd = TcpConnect(kListen, port);
  ASSERT_GE(fd, 0);
  const std::string greeting = ReadLine(fd) + "\n";
  const auto t0 = std::chrono::steady_clock::now();
  const testing::RoundTrip r = testing::EchoRoundTrip(fd, payload, payload.size());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  close(fd);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.received.size(), payload.size());
  EXPECT_EQ(testing::Fnv(r.received.data(), r.received.size()),
            testing::Fnv(payload.data(), payload.size()));
  EXPECT_GE(engine_->Counters().bytes_spliced, 2 * payload.size());
  RecordProperty("MiBps", std::to_string(static_cast<int>(128 / secs)));
}

TEST_F(RelayTest, HalfCloseClientFinReachesBackendAndReplyStillFlows) {
  TestBackend counter("count", "127.0.0.11", kPort, 0, TestBackend::Mode::kCount);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const std::string payload = testing::Pattern(3 << 20, 9);
  const int fd = TcpConnect(kListen, port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::SendAll(fd, payload));
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  // The backend answers only once it saw EOF; the answer travels after the client's FIN.
  std::string rest;
  ASSERT_TRUE(testing::ReadToEof(fd, &rest));
  close(fd);
  EXPECT_EQ(rest, "count " + std::to_string(payload.size()) + " " +
                      std::to_string(testing::Fnv(payload.data(), payload.size())) + "\n");
}

TEST_F(RelayTest, BackendFinReachesClientWhileClientKeepsSending) {
  // The echo backend closes after the client's FIN; before that the client half-closes nothing:
  // here the client reads the greeting, sends, half-closes, and must see all echoes then EOF.
  TestBackend a("a", "127.0.0.11", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const int fd = TcpConnect(kListen, port);
  ASSERT_GE(fd, 0);
  ASSERT_THAT(ReadLine(fd), StartsWith("a "));
  ASSERT_TRUE(testing::SendAll(fd, "ping\n"));
  EXPECT_EQ(ReadLine(fd), "ping");
  ASSERT_TRUE(testing::SendAll(fd, "last"));
  shutdown(fd, SHUT_WR);
  std::string rest;
  EXPECT_TRUE(testing::ReadToEof(fd, &rest));
  EXPECT_EQ(rest, "last");
  close(fd);
  EXPECT_TRUE(Eventually([&] { return engine_->Counters().active == 0; }));
}

TEST_F(RelayTest, BackendResetIsPropagated) {
  TestBackend r("r", "127.0.0.11", kPort, 0, TestBackend::Mode::kReset);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const int fd = TcpConnect(kListen, port);
  ASSERT_GE(fd, 0);
  ASSERT_THAT(ReadLine(fd), StartsWith("r "));
  ASSERT_TRUE(testing::SendAll(fd, "x"));
  EXPECT_EQ(ReadLine(fd), "ERROR reset");
  close(fd);
  EXPECT_TRUE(Eventually([&] { return engine_->Counters().resets >= 1; }));
}

TEST_F(RelayTest, ManyConcurrentClients) {
  TestBackend a("a", "127.0.0.11", kPort), b("b", "127.0.0.12", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11"), B("127.0.0.12")}));
  constexpr int kClients = 200;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    fds.push_back(TcpConnect(kListen, port));
    ASSERT_GE(fds.back(), 0);
  }
  // All 200 are open at once before any is used.
  ASSERT_TRUE(Eventually([&] { return engine_->Counters().active == kClients; }));
  EXPECT_EQ(testing::ConcurrentEchoRoundTrips(fds, 64 << 10), kClients);
  EXPECT_GT(a.accepted(), 50);
  EXPECT_GT(b.accepted(), 50);
}

TEST_F(RelayTest, EndpointChangeKeepsEstablishedConnection) {
  TestBackend a("a", "127.0.0.11", kPort), b("b", "127.0.0.12", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const int fd = TcpConnect(kListen, port);
  ASSERT_GE(fd, 0);
  ASSERT_THAT(ReadLine(fd), StartsWith("a "));
  frontend_->Update(Spec({B("127.0.0.12")}));
  EXPECT_THAT(Greeting(kListen, port), StartsWith("b "));
  ASSERT_TRUE(testing::SendAll(fd, "still there\n"));
  EXPECT_EQ(ReadLine(fd), "still there");
  close(fd);
}

TEST_F(RelayTest, ClosedFrontendStopsListeningButKeepsConnections) {
  TestBackend a("a", "127.0.0.11", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const int fd = TcpConnect(kListen, port);
  ASSERT_GE(fd, 0);
  ASSERT_THAT(ReadLine(fd), StartsWith("a "));
  engine_->Close(frontend_);
  EXPECT_TRUE(Eventually([&] { return ConnectRefused(port); }));
  ASSERT_TRUE(testing::SendAll(fd, "after close\n"));
  EXPECT_EQ(ReadLine(fd), "after close");
  close(fd);
}

// The race that made the test above flaky, made deterministic: a client whose connection had not
// reached the listener's accept queue when the frontend closed is left established with no socket
// behind it and no reset. TCP_DEFER_ACCEPT on the listener holds connections there (the client
// counts the connection established; the server waits for data before queueing it for accept).
// Probing for the closed port must not wait on such a connection, and the connection accepted
// before the close carries on.
TEST_F(RelayTest, ClosedFrontendKeepsConnectionsWhenAProbeIsLeftHalfOpen) {
  TestBackend a("a", "127.0.0.11", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const int fd = TcpConnect(kListen, port);
  ASSERT_GE(fd, 0);
  ASSERT_THAT(ReadLine(fd), StartsWith("a "));
  const int listener = ListeningFd(port);
  ASSERT_GE(listener, 0);
  const int defer_seconds = 60;
  ASSERT_EQ(
      setsockopt(listener, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof(defer_seconds)),
      0);
  // The port still listens: the probe connects, and must not wait for a greeting that a held
  // connection never gets.
  EXPECT_FALSE(ConnectRefused(port));
  const int half_open = TcpConnect(kListen, port);
  ASSERT_GE(half_open, 0);
  engine_->Close(frontend_);
  EXPECT_TRUE(Eventually([&] { return ConnectRefused(port); }));
  ASSERT_TRUE(testing::SendAll(fd, "after close\n"));
  EXPECT_EQ(ReadLine(fd), "after close");
  // The close dropped the held connection without a word: its client hears nothing (no greeting,
  // no reset) until it sends, and then a reset, since nothing on the port knows it.
  pollfd p{half_open, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
  ASSERT_TRUE(testing::SendAll(half_open, "x"));
  EXPECT_EQ(ReadLine(half_open), "ERROR reset");
  close(half_open);
  close(fd);
}

TEST_F(RelayTest, ConnectionLimitRefusesAndCounts) {
  TestBackend a("a", "127.0.0.11", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}), /*limit=*/2);
  const int c1 = TcpConnect(kListen, port), c2 = TcpConnect(kListen, port);
  ASSERT_THAT(ReadLine(c1), StartsWith("a "));
  ASSERT_THAT(ReadLine(c2), StartsWith("a "));
  EXPECT_EQ(Greeting(kListen, port), "ERROR reset");
  EXPECT_EQ(engine_->Counters().limit_hits, 1u);
  EXPECT_EQ(frontend_->limiter().hits(), 1u);
  close(c1);
  EXPECT_TRUE(Eventually([&] { return frontend_->limiter().active() == 1; }));
  EXPECT_THAT(Greeting(kListen, port), StartsWith("a "));
  close(c2);
}

TEST_F(RelayTest, IdleTimeoutClosesQuietConnections) {
  options_.tcp_idle_timeout = std::chrono::milliseconds(300);
  TestBackend a("a", "127.0.0.11", kPort);
  const uint16_t port = Serve(Spec({B("127.0.0.11")}));
  const int fd = TcpConnect(kListen, port);
  ASSERT_THAT(ReadLine(fd), StartsWith("a "));
  const auto t0 = std::chrono::steady_clock::now();
  std::string rest;
  EXPECT_TRUE(testing::ReadToEof(fd, &rest));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  close(fd);
  EXPECT_EQ(engine_->Counters().idle_timeouts, 1u);
}

TEST_F(RelayTest, UdpSessionsRelayAndExpire) {
  TestBackend a("a", "127.0.0.11", kPort, kUdpPort), b("b", "127.0.0.12", kPort, kUdpPort);
  const uint16_t port =
      Serve(Spec({B("127.0.0.11", kUdpPort), B("127.0.0.12", kUdpPort)}, Protocol::kUDP));
  const int c1 = testing::UdpConnect(kListen, port);
  const int c2 = testing::UdpConnect(kListen, port);
  // A session sticks to one endpoint; the next client gets the next endpoint.
  const std::string r1 = testing::UdpRequest(c1, "one");
  EXPECT_THAT(r1, HasSubstr(" one"));
  EXPECT_EQ(Name(testing::UdpRequest(c1, "two")), Name(r1));
  const std::string r2 = testing::UdpRequest(c2, "three");
  EXPECT_NE(Name(r2), Name(r1));
  EXPECT_EQ(engine_->Counters().udp_sessions, 2u);
  EXPECT_EQ(engine_->Counters().udp_active_sessions, 2u);
  EXPECT_TRUE(Eventually([&] { return engine_->Counters().udp_active_sessions == 0; }));
  // After expiry the client gets a fresh session.
  EXPECT_THAT(testing::UdpRequest(c1, "again"), HasSubstr(" again"));
  EXPECT_EQ(engine_->Counters().udp_sessions, 3u);
  close(c1);
  close(c2);
}

TEST_F(RelayTest, Ipv6Listener) {
  options_.families = {IpFamily::kIPv4, IpFamily::kIPv6};
  const int probe = socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6 on this host";
  close(probe);
  TestBackend a("a", "::1", kPort);
  if (!a.ok()) GTEST_SKIP() << "cannot bind ::1";
  FrontendSpec spec = Spec({B("127.0.0.11")});
  spec.backends[1] = {B("::1")};
  TestBackend v4("v4", "127.0.0.11", kPort);
  const uint16_t port = Serve(spec);
  EXPECT_THAT(Greeting("::1", port), StartsWith("a "));
  EXPECT_THAT(Greeting(kListen, port), StartsWith("v4 "));
}

// One socket serves both families: IPv4 datagrams arrive IPv4-mapped, and the reply must leave
// from the mapped local address (IPV6_PKTINFO) for a connected IPv4 client to accept it.
TEST_F(RelayTest, UdpOneSocketServesBothFamilies) {
  options_.families = {IpFamily::kIPv4, IpFamily::kIPv6};
  const int probe = socket(AF_INET6, SOCK_DGRAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6 on this host";
  close(probe);
  TestBackend v6("v6", "::1", kPort, kUdpPort);
  if (!v6.ok()) GTEST_SKIP() << "cannot bind ::1";
  TestBackend v4("v4", "127.0.0.11", kPort, kUdpPort);
  FrontendSpec spec = Spec({B("127.0.0.11", kUdpPort)}, Protocol::kUDP);
  spec.backends[1] = {B("::1", kUdpPort)};
  const uint16_t port = Serve(spec);
  const int c4 = testing::UdpConnect(kListen, port);
  const int c6 = testing::UdpConnect("::1", port);
  EXPECT_THAT(testing::UdpRequest(c4, "four"), StartsWith("v4 "));
  EXPECT_THAT(testing::UdpRequest(c6, "six"), StartsWith("v6 "));
  close(c4);
  close(c6);
  EXPECT_EQ(engine_->Counters().listeners, 1u);  // one socket, on one worker
}

}  // namespace
}  // namespace kpx
