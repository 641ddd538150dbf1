// The whole userspace dataplane on the real kernel: private network namespaces (client, node,
// backends), portal rules applied with iptables-nft inside the node namespace, kpx-echo-server
// backends, real TCP and UDP through ClusterIP and NodePort. Needs root; skips otherwise. The
// dataplane is built on the test's main thread after it switched into the node namespace (its
// worker threads and iptables children inherit it); clients run on threads switched into the
// client namespace. Never touches the host's namespace: every switch is verified.
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <future>
#include <map>

#include "proxier/userspace/userspace_dataplane.h"
#include "proxier/userspace/userspace_dataplane_factory.h"
#include "tests/support/command.h"
#include "tests/support/in_netns.h"
#include "tests/support/netns.h"
#include "tests/support/routed_topology.h"
#include "tests/support/state_builder.h"
#include "tests/support/traffic.h"

namespace kpx {
namespace {

using testing::CommandOutput;
using testing::Ep;
using testing::Greeting;
using ::testing::HasSubstr;
using testing::InNetns;
using testing::Ip;
using testing::Net;
using ::testing::Not;
using testing::ReadLine;
using testing::RunCommand;
using ::testing::StartsWith;
using testing::StateBuilderForTest;
using testing::Svc;
using testing::TestNetns;
using testing::WaitForGreeting;

// IP plan: client 10.77.1.2 -- node 10.77.1.1 | node 10.77.2.1 -- backends 10.77.2.2-4 (one
// veth). ClusterIPs 10.96.0.10 (web, tcp 80 -> 8080, NodePort 30080) and 10.96.0.53 (dns, udp
// 53 -> 5353). 10.77.2.2:8081 has nothing listening (a dead endpoint).
constexpr char kClient[] = "10.77.1.2";
constexpr char kNode[] = "10.77.1.1";
constexpr char kWebIp[] = "10.96.0.10";
constexpr char kDnsIp[] = "10.96.0.53";
const char* const kBackends[] = {"10.77.2.2", "10.77.2.3", "10.77.2.4"};

class UserspaceNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = TestNetns::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    if (!RunCommand({"iptables-nft", "--version"}).ok()) GTEST_SKIP() << "iptables-nft missing";
    netns_ = std::make_unique<TestNetns>("kpx-us");
    // The node's own service traffic needs a route before OUTPUT's REDIRECT applies.
    const Status st =
        BuildRoutedTopology(*netns_, {.dev_prefix = "u",
                                      .client_ip = kClient,
                                      .node_ip = kNode,
                                      .node_backend_ip = "10.77.2.1",
                                      .backend_ips = {kBackends[0], kBackends[1], kBackends[2]},
                                      .node_default_via = kClient});
    ASSERT_TRUE(st.ok()) << st.message();
    client_ = netns_->Name("c");
    node_ = netns_->Name("n");
    for (int i = 0; i < 3; ++i) {
      ASSERT_GT(netns_->Spawn("b", {KPX_ECHO_SERVER, "b" + std::to_string(i + 1), "--bind",
                                    kBackends[i], "--tcp", "8080", "--udp", "5353"}),
                0);
    }
    // The node namespace for the rest of the test: the dataplane and its threads live there.
    in_node_ = std::make_unique<InNetns>(node_);
    UserspaceOptions options;
    options.families = {IpFamily::kIPv4};
    options.backend = IptablesBackend::kNft;
    options.workers = 2;
    options.udp_idle_timeout = std::chrono::milliseconds(1000);
    owned_ = NewUserspaceDataplane(options);
    dataplane_ = dynamic_cast<UserspaceDataplane*>(owned_.get());
    ASSERT_NE(dataplane_, nullptr);
    // Wait until every backend answers, so no test races the servers' start.
    for (const char* ip : kBackends) ASSERT_TRUE(WaitForGreeting(ip, 8080)) << ip;
  }

  void TearDown() override {
    owned_.reset();
    in_node_.reset();
    netns_.reset();
  }

  // Runs `f` on a thread inside the client namespace.
  template <typename F>
  auto FromClient(F f) {
    return std::async(std::launch::async,
                      [&] {
                        InNetns in(client_);
                        return f();
                      })
        .get();
  }

  void AddWeb(std::vector<EndpointInfo> endpoints,
              const std::function<void(ServicePortInfo&)>& mutate = nullptr) {
    builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, kWebIp,
                     [&](ServicePortInfo& s) {
                       s.node_port = 30080;
                       if (mutate) mutate(s);
                     }),
                 endpoints);
  }
  void Sync() {
    Status st = dataplane_->Apply(builder_.Build(), false);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  static std::string Name(const std::string& greeting) {
    return greeting.substr(0, greeting.find(' '));
  }

  std::unique_ptr<TestNetns> netns_;
  std::string client_, node_;
  std::unique_ptr<InNetns> in_node_;
  std::unique_ptr<Dataplane> owned_;
  UserspaceDataplane* dataplane_ = nullptr;
  StateBuilderForTest builder_;
};

std::vector<EndpointInfo> AllBackends() {
  return {Ep(kBackends[0], 8080), Ep(kBackends[1], 8080), Ep(kBackends[2], 8080)};
}

TEST_F(UserspaceNetnsTest, ClusterIpAndNodePortBalanceFromClientAndNode) {
  AddWeb(AllBackends());
  Sync();
  std::map<std::string, int> seen = FromClient([&] {
    std::map<std::string, int> s;
    for (int i = 0; i < 30; ++i) ++s[Name(Greeting(kWebIp, 80))];
    return s;
  });
  EXPECT_EQ(seen, (std::map<std::string, int>{{"b1", 10}, {"b2", 10}, {"b3", 10}}));
  // NodePort from outside, and both from the node itself (the OUTPUT portals).
  EXPECT_THAT(FromClient([&] { return Greeting(kNode, 30080); }), StartsWith("b"));
  EXPECT_THAT(Greeting(kWebIp, 80), StartsWith("b"));
  EXPECT_THAT(Greeting(kNode, 30080), StartsWith("b"));
  // Backends see the node's address: kpx connects on the client's behalf.
  EXPECT_THAT(FromClient([&] { return Greeting(kWebIp, 80); }), HasSubstr(" 10.77.2.1:"));
  const std::string nat = CommandOutput({"iptables-nft-save", "-t", "nat"});
  EXPECT_THAT(nat, HasSubstr("-A PREROUTING -m comment --comment \"kpx userspace service "
                             "portals\" -j KPX-PORTALS-CONTAINER"));
  EXPECT_THAT(nat, HasSubstr("-j REDIRECT --to-ports"));
}

TEST_F(UserspaceNetnsTest, ClientIpAffinity) {
  AddWeb(AllBackends(), [](ServicePortInfo& s) {
    s.session_affinity_client_ip = true;
    s.session_affinity_timeout_seconds = 60;
  });
  Sync();
  const std::vector<std::string> names = FromClient([&] {
    std::vector<std::string> v;
    for (int i = 0; i < 10; ++i) v.push_back(Name(Greeting(kWebIp, 80)));
    return v;
  });
  for (const auto& n : names) EXPECT_EQ(n, names[0]);
}

TEST_F(UserspaceNetnsTest, RetriesPastDeadEndpoint) {
  AddWeb({Ep(kBackends[0], 8081), Ep(kBackends[1], 8080)});
  Sync();
  const int ok = FromClient([&] {
    int n = 0;
    for (int i = 0; i < 10; ++i) n += Name(Greeting(kWebIp, 80)) == "b2";
    return n;
  });
  EXPECT_EQ(ok, 10);
  EXPECT_GE(dataplane_->counters().retries, 5u);
}

TEST_F(UserspaceNetnsTest, LargeTransferByteExactAndHalfClose) {
  AddWeb({Ep(kBackends[0], 8080)});
  Sync();
  const std::string payload = testing::Pattern(64 << 20, 3);
  const testing::RoundTrip r = FromClient([&] {
    testing::RoundTrip rt;
    const int fd = testing::TcpConnect(kWebIp, 80);
    if (fd < 0) return rt;
    if (ReadLine(fd).rfind("b1 ", 0) != 0) return rt;
    // The client half-closes after sending; the echo server sees EOF only through the relay,
    // echoes what is left and closes, which the client sees as EOF after the last byte.
    rt = testing::EchoRoundTrip(fd, payload, payload.size(), /*half_close=*/true);
    close(fd);
    return rt;
  });
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.received.size(), payload.size());
  EXPECT_EQ(testing::Fnv(r.received.data(), r.received.size()),
            testing::Fnv(payload.data(), payload.size()));
}

TEST_F(UserspaceNetnsTest, TwoHundredConcurrentClients) {
  AddWeb(AllBackends());
  Sync();
  const int ok = FromClient([&] {
    std::vector<int> fds;
    for (int i = 0; i < 200; ++i) fds.push_back(testing::TcpConnect(kWebIp, 80));
    return testing::ConcurrentEchoRoundTrips(fds, 32 << 10);
  });
  EXPECT_EQ(ok, 200);
}

TEST_F(UserspaceNetnsTest, UdpSessionsThroughClusterIp) {
  builder_.Add(Svc("demo", "dns", "", Protocol::kUDP, 53, kDnsIp),
               {Ep(kBackends[0], 5353), Ep(kBackends[1], 5353)});
  Sync();
  const std::vector<std::string> replies = FromClient([&] {
    std::vector<std::string> v;
    // A socket connected to the ClusterIP accepts only replies from it: getting one proves the
    // reply left kpx from the redirected address and conntrack mapped it back.
    const int a = testing::UdpConnect(kDnsIp, 53);
    const int b = testing::UdpConnect(kDnsIp, 53);
    v.push_back(testing::UdpRequest(a, "q1"));
    v.push_back(testing::UdpRequest(a, "q2"));
    v.push_back(testing::UdpRequest(b, "q3"));
    close(a);
    close(b);
    return v;
  });
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_THAT(replies[0], StartsWith("b"));
  EXPECT_EQ(Name(replies[1]), Name(replies[0]));  // same session, same endpoint
  EXPECT_THAT(replies[2], StartsWith("b"));
  EXPECT_NE(Name(replies[2]), Name(replies[0]));  // next session, next endpoint
  EXPECT_EQ(dataplane_->counters().udp_sessions, 2u);
}

TEST_F(UserspaceNetnsTest, EndpointChangeKeepsEstablishedConnection) {
  AddWeb({Ep(kBackends[0], 8080)});
  Sync();
  const std::string result = FromClient([&] {
    const int fd = testing::TcpConnect(kWebIp, 80);
    if (fd < 0) return std::string("connect failed");
    std::string out = Name(ReadLine(fd));
    // Inside the client thread the sync runs on another thread that is in the node namespace.
    std::async(std::launch::async, [&] {
      InNetns in(node_);
      AddWeb({Ep(kBackends[1], 8080)});
      Sync();
    }).get();
    out += " " + Name(Greeting(kWebIp, 80));
    testing::SendAll(fd, "still here\n");
    out += " " + ReadLine(fd);
    close(fd);
    return out;
  });
  EXPECT_EQ(result, "b1 b2 still here");
}

// A listener binds the wildcard address, so its port answers on the node's own addresses too,
// where no portal rule (and no loadBalancerSourceRanges) applies. Only connections a portal
// redirected are relayed; one made straight to the listener port is reset and counted.
TEST_F(UserspaceNetnsTest, DirectConnectionToTheListenerPortIsReset) {
  AddWeb(AllBackends(), [](ServicePortInfo& s) {
    s.load_balancer_ips = {Ip("192.0.2.80")};
    s.load_balancer_source_ranges = {Net("198.51.100.0/24")};  // not the client's
  });
  Sync();
  const uint16_t port = dataplane_->ListenPort({{"demo", "web", "", Protocol::kTCP}});
  ASSERT_NE(port, 0);
  const std::string direct = FromClient([&] { return Greeting(kNode, port); });
  EXPECT_THAT(direct, StartsWith("ERROR")) << "reached the service around its portals";
  EXPECT_THAT(FromClient([&] { return Greeting(kWebIp, 80); }), StartsWith("b"));
  EXPECT_THAT(Greeting(kWebIp, 80), StartsWith("b"));  // the node's own, through OUTPUT
  EXPECT_EQ(dataplane_->counters().direct_rejects, 1u);
}

TEST_F(UserspaceNetnsTest, RemovedServiceAndCleanupLeaveNoRules) {
  AddWeb(AllBackends());
  Sync();
  ASSERT_THAT(CommandOutput({"iptables-nft-save", "-t", "nat"}), HasSubstr("10.96.0.10/32"));
  builder_.Remove(ServicePortName{"demo", "web", "", Protocol::kTCP});
  Sync();
  EXPECT_THAT(CommandOutput({"iptables-nft-save", "-t", "nat"}), Not(HasSubstr("10.96.0.10/32")));
  EXPECT_EQ(dataplane_->counters().frontends, 0u);
  ASSERT_TRUE(dataplane_->Cleanup().ok());
  EXPECT_THAT(CommandOutput({"iptables-nft-save", "-t", "nat"}), Not(HasSubstr("KPX-PORTALS")));
}

}  // namespace
}  // namespace kpx
