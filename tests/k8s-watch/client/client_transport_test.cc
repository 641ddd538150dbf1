// The API client's transport against the fake API server: IPv6 servers (in a private network
// namespace), strict TLS server names, kubeconfig's tls-server-name, and TLS failure causes.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "k8s-watch/client/api_client.h"
#include "tests/k8s-watch/client/fake_api_server.h"
#include "tests/k8s-watch/client/test_pki.h"
#include "tests/support/api_objects.h"
#include "tests/support/private_netns.h"
#include "tests/support/wire_objects.h"

namespace kpx {
namespace {

using testing::FakeApiServer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TestPki;

constexpr char kToken[] = "transport-token";
// The fixed address plan of the namespace test: the API server's IPv6 address, as kubeadm
// writes it for an IPv6 control plane.
constexpr char kApiServerV6[] = "fd00::1";

const TestPki& Pki() {
  static const TestPki* pki = new TestPki(TestPki::Generate());
  return *pki;
}

ClientConfig ConfigFor(const std::string& server) {
  ClientConfig c;
  c.server = server;
  c.certificate_authority_pem = Pki().ca_pem;
  c.token = kToken;
  c.origin = "test";
  return c;
}

// GET /api/v1/services; the status, or the transport error's message.
std::string List(const ClientConfig& config) {
  Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(config);
  if (!client.ok()) return "create: " + client.status().message();
  Result<ApiClient::Response> r = (*client)->Get("/api/v1/services", std::stop_token());
  if (!r.ok()) return "error: " + r.status().message();
  return "status " + std::to_string(r->status);
}

// Moves this test process (its main thread, before any other thread exists, and so every thread
// started later) into a network namespace of its own, with fd00::1 on lo. The namespace goes
// away with the process.
Status EnterNamespaceWithApiServerAddress() {
  if (Status s = testing::EnterPrivateNetns(); !s.ok()) return s;
  if (std::system("ip -6 addr add fd00::1/128 dev lo nodad") != 0) {
    return Status::Error("ip -6 addr add fd00::1/128 dev lo failed");
  }
  return Status::Ok();
}

// Issue 16: an API server at https://[fd00::1]:6443 was never reached ("Error resolving
// address").
TEST(ClientTransportTest, ReachesAnIpv6ApiServerInANetworkNamespace) {
  if (const std::string why = testing::PrivateNetnsUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const Status in_netns = EnterNamespaceWithApiServerAddress();
  ASSERT_TRUE(in_netns.ok()) << in_netns.message();
  FakeApiServer server(Pki());
  server.SetTokens({{kToken, "system:kube-proxy"}});
  server.Start(0, kApiServerV6);
  ASSERT_EQ(server.url(), "https://[fd00::1]:" + std::to_string(server.port()));
  EXPECT_EQ(List(ConfigFor(server.url())), "status 200");
  // Watches stream over the same transport.
  Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(ConfigFor(server.url()));
  ASSERT_TRUE(client.ok());
  std::stop_source cancel;
  int lines = 0;
  server.Put(FakeApiServer::Resource::kServices,
             testing::ServiceObject(testing::MakeService("default", "web")));
  Result<ApiClient::Response> watch = (*client)->Stream(
      "/api/v1/services?watch=1&resourceVersion=0",
      [&](std::string_view) {
        ++lines;
        return false;  // one event is enough
      },
      cancel.get_token());
  ASSERT_TRUE(watch.ok()) << watch.status().message();
  EXPECT_EQ(watch->status, 200);
  EXPECT_EQ(lines, 1);
  server.Stop();
}

// Issue 17 item 6: when the server's host vanished without closing the connection, kpx noticed
// nothing for minutes. Keepalive (here 1 s idle, 1 s apart; 15 s and 5 s in production) must end
// the watch well within the 60 s the issue asks for, long before the stream's idle limit.
TEST(ClientTransportTest, WatchToAVanishedServerHostEndsWithinTheKeepaliveBound) {
  if (const std::string why = testing::PrivateNetnsUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const Status in_netns = EnterNamespaceWithApiServerAddress();
  ASSERT_TRUE(in_netns.ok()) << in_netns.message();
  FakeApiServer server(Pki());
  server.SetTokens({{kToken, "system:kube-proxy"}});
  server.Start();
  ApiClient::Options options;
  options.keepalive_idle = std::chrono::seconds(1);
  options.keepalive_interval = std::chrono::seconds(1);
  options.stream_idle_timeout = std::chrono::seconds(300);
  Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(ConfigFor(server.url()), options);
  ASSERT_TRUE(client.ok());
  std::stop_source cancel;
  std::promise<Result<ApiClient::Response>> done;
  std::thread watcher([&] {
    done.set_value((*client)->Stream(
        "/api/v1/services?watch=1&resourceVersion=1", [](std::string_view) { return true; },
        cancel.get_token()));
  });
  ASSERT_TRUE(
      server.WaitForOpenWatches(FakeApiServer::Resource::kServices, 1, std::chrono::seconds(20)));
  // The server's host is gone: nothing it sends arrives, nothing sent to it is answered.
  const std::string port = std::to_string(server.port());
  ASSERT_EQ(std::system(("iptables -I INPUT -p tcp --sport " + port + " -j DROP && " +
                         "iptables -I INPUT -p tcp --dport " + port + " -j DROP")
                            .c_str()),
            0);
  std::future<Result<ApiClient::Response>> result = done.get_future();
  const bool ended = result.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  if (!ended) cancel.request_stop();
  watcher.join();
  EXPECT_TRUE(ended) << "the watch outlived a dead peer by 60 s";
  const Result<ApiClient::Response> r = result.get();
  EXPECT_FALSE(r.ok());  // an error, which makes the reflector re-establish its watch
  server.Stop();
}

// Issue 17 item 3: the server name is checked against SANs only, as Go does since 1.15; the
// Common Name is never a fallback. No request (and so no token) may reach such a server.
struct HostileCertificate {
  const char* name;
  TestPki::KeyPair TestPki::*pair;
  const char* host;  // how the client addresses the server
};

class StrictServerNameTest : public ::testing::TestWithParam<HostileCertificate> {};

TEST_P(StrictServerNameTest, CommonNameIsNeverAccepted) {
  TestPki pki = Pki();
  pki.server_cert_pem = (pki.*(GetParam().pair)).cert_pem;
  pki.server_key_pem = (pki.*(GetParam().pair)).key_pem;
  FakeApiServer server(pki);
  server.SetTokens({{kToken, "system:kube-proxy"}});
  server.Start();
  const std::string result = List(
      ConfigFor(std::string("https://") + GetParam().host + ":" + std::to_string(server.port())));
  EXPECT_THAT(result, HasSubstr("error: "));
  // The log line names the cause, not just "Error in SSL handshake".
  EXPECT_THAT(result, ::testing::AnyOf(HasSubstr("does not match"), HasSubstr("no alternative"),
                                       HasSubstr("mismatch")));
  EXPECT_THAT(server.requests(), IsEmpty());
  server.Stop();
}

INSTANTIATE_TEST_SUITE_P(
    Certificates, StrictServerNameTest,
    ::testing::Values(
        HostileCertificate{"SanElsewhereCnIp", &TestPki::server_san_elsewhere_cn_ip, "127.0.0.1"},
        HostileCertificate{"NoSanCnLocalhost", &TestPki::server_no_san_cn_localhost, "localhost"},
        HostileCertificate{"NoSanCnWildcard", &TestPki::server_no_san_cn_wildcard, "127.0.0.1"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ClientTransportTest, IpSansAreMatchedForIpHostsAndNamesForNames) {
  FakeApiServer server(Pki());
  server.SetTokens({{kToken, "system:kube-proxy"}});
  server.Start();
  const std::string port = std::to_string(server.port());
  EXPECT_EQ(List(ConfigFor("https://127.0.0.1:" + port)), "status 200");
  EXPECT_EQ(List(ConfigFor("https://localhost:" + port)), "status 200");
  server.Stop();
}

// kubeconfig's tls-server-name: the name the certificate must carry (and the SNI) when the
// server is addressed by something else, typically an IP.
TEST(ClientTransportTest, TlsServerNameIsWhatTheCertificateIsCheckedAgainst) {
  FakeApiServer server(Pki());
  server.SetTokens({{kToken, "system:kube-proxy"}});
  server.Start();
  ClientConfig config = ConfigFor("https://127.0.0.1:" + std::to_string(server.port()));
  config.tls_server_name = "kubernetes.default.svc";
  EXPECT_EQ(List(config), "status 200");
  config.tls_server_name = "elsewhere.example";
  const std::string refused = List(config);
  EXPECT_THAT(refused, HasSubstr("error: "));
  EXPECT_EQ(server.requests().size(), 1u);  // only the first one got through
  server.Stop();
}

// A minimal HTTP CONNECT proxy on 127.0.0.1 that counts the tunnels it opened.
class ConnectProxy {
 public:
  ConnectProxy() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(listen_fd_, 8);
    socklen_t len = sizeof(a);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ConnectProxy() {
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  int tunnels() const { return tunnels_.load(); }
  std::string last_target() const {
    std::lock_guard lock(mu_);
    return last_target_;
  }

 private:
  void Serve() {
    for (;;) {
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      std::string head;
      char c;
      while (head.find("\r\n\r\n") == std::string::npos && read(client, &c, 1) == 1) head += c;
      // "CONNECT host:port HTTP/1.1"
      const size_t sp = head.find(' ');
      const std::string target = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
      {
        std::lock_guard lock(mu_);
        last_target_ = target;
      }
      const int port = std::stoi(target.substr(target.rfind(':') + 1));
      const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port));
      if (head.rfind("CONNECT ", 0) != 0 ||
          connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        close(upstream);
        close(client);
        continue;
      }
      ++tunnels_;
      const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
      (void)!write(client, ok.data(), ok.size());
      Relay(client, upstream);
      close(upstream);
      close(client);
    }
  }
  static void Relay(int a, int b) {
    char buf[16384];
    for (;;) {
      pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(fds, 2, 5000) <= 0) return;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0 || write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n) return;
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> tunnels_{0};
  mutable std::mutex mu_;
  std::string last_target_;
  std::thread thread_;
};

// Issue 17 item 7: kubeconfig's proxy-url was silently ignored.
TEST(ClientTransportTest, ProxyUrlIsUsed) {
  FakeApiServer server(Pki());
  server.SetTokens({{kToken, "system:kube-proxy"}});
  server.Start();
  ConnectProxy proxy;
  ClientConfig config = ConfigFor("https://127.0.0.1:" + std::to_string(server.port()));
  config.proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  EXPECT_EQ(List(config), "status 200");
  EXPECT_EQ(proxy.tunnels(), 1);
  EXPECT_EQ(proxy.last_target(), "127.0.0.1:" + std::to_string(server.port()));
  server.Stop();
}

TEST(ClientTransportTest, UntrustedServerNamesTheCause) {
  FakeApiServer server(Pki());
  server.Start();
  ClientConfig config = ConfigFor("https://127.0.0.1:" + std::to_string(server.port()));
  config.certificate_authority_pem = Pki().other_ca_pem;
  EXPECT_THAT(List(config), HasSubstr("certificate"));
  EXPECT_THAT(server.requests(), IsEmpty());
  server.Stop();
}

}  // namespace
}  // namespace kpx
