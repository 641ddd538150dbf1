// Real-kernel tests of the nftables mode: three private network namespaces (client, node,
// backend) joined by veth pairs (the topology of the iptables integration test), kpx's nftables
// dataplane programming the node namespace through its own netlink socket (opened inside that
// namespace), real TCP and UDP traffic (SCTP where the kernel has it: the tests/vm VM). Needs
// root; skips with a message otherwise. The `nft`
// binary is used only to inspect and to damage state (drift repair).
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <set>
#include <thread>

#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/nftables/netlink_nft_handle.h"
#include "proxier/nftables/nft_dataplane.h"
#include "proxier/nftables/nft_set_sizes_probe.h"
#include "tests/support/command.h"
#include "tests/support/exchange.h"
#include "tests/support/in_netns.h"
#include "tests/support/netns.h"
#include "tests/support/routed_topology.h"
#include "tests/support/state_builder.h"
#include "tests/support/traffic.h"
#include "tests/support/udp_session.h"

namespace kpx {
namespace {

using testing::CommandOutput;
using testing::Ep;
using testing::ExchangeOnce;
using testing::InNetns;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using testing::RunCommand;
using testing::StateBuilderForTest;
using testing::Svc;
using testing::TestBackend;
using testing::TestNetns;
using testing::Transport;
using testing::UdpSession;

// IP plan: client 10.99.1.2 -- node 10.99.1.1 | node 10.99.2.1 -- backends 10.99.2.2, 10.99.2.3
// (both on one veth). Services 172.30.0.0/16, NodePort 30080.
constexpr char kClientIp[] = "10.99.1.2";
constexpr char kNodeIp[] = "10.99.1.1";
constexpr char kBackend1[] = "10.99.2.2";
constexpr char kBackend2[] = "10.99.2.3";

// One request from `netns` through tests/support's ExchangeOnce, in the form these tests compare:
// "<server> <peer address>" (TestBackend answers "<name> <peer ip:port>[ <payload>]"), or
// "refused" (a reject verdict), "timeout" (a drop), "error".
std::string Request(const std::string& netns, int type, const std::string& ip, int port,
                    std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
  InNetns in(netns);
  const std::string line = ExchangeOnce(type == SOCK_DGRAM ? Transport::kUdp : Transport::kTcp, ip,
                                        port, static_cast<int>(wait.count()));
  if (line == "ERROR refused") return "refused";
  if (line == "ERROR timeout") return "timeout";
  if (line.rfind("ERROR", 0) == 0) return "error";
  const size_t sp = line.find(' ');
  if (sp == std::string::npos) return line;
  std::string peer = line.substr(sp + 1);
  peer = peer.substr(0, peer.find(' '));  // UDP: the echoed payload follows
  const size_t colon = peer.rfind(':');   // the peer's port
  if (colon != std::string::npos) peer = peer.substr(0, colon);
  if (peer.size() > 1 && peer.front() == '[') peer = peer.substr(1, peer.size() - 2);
  return line.substr(0, sp) + " " + peer;
}

// Output of a command run inside a namespace ("" when it fails).
std::string Output(const std::string& netns, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", netns});
  return CommandOutput(argv);
}

class NftIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = TestNetns::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    // The node's default route: unDNATed service traffic must be routable to reach the forward
    // hook (and its reject verdicts) instead of dying in the routing decision.
    const Status st = BuildRoutedTopology(netns_, {.dev_prefix = "k",
                                                   .client_ip = kClientIp,
                                                   .node_ip = kNodeIp,
                                                   .node_backend_ip = "10.99.2.1",
                                                   .backend_ips = {kBackend1, kBackend2},
                                                   .node_default_via = kBackend1,
                                                   .forwarding = true});
    ASSERT_TRUE(st.ok()) << st.message();
    client_ = netns_.Name("c");
    node_ = netns_.Name("n");
    backend_ = netns_.Name("b");
    StartBackend(kBackend1, 8080, 5353);
    StartBackend(kBackend2, 8080, 5353);
    builder_.Node([](NodeState& n) { n.addresses = {Ip(kNodeIp)}; });
    NewDataplane();
  }

  // A TestBackend named after its address (answers "<ip> <peer>"), in the backend namespace.
  void StartBackend(const std::string& ip, int tcp_port, int udp_port = 0) {
    InNetns in(backend_);
    backends_.push_back(std::make_unique<TestBackend>(ip, ip, tcp_port, udp_port));
    ASSERT_TRUE(backends_.back()->ok()) << "backend " << ip;
  }

  // A fresh dataplane, as after a kpx restart: its socket is opened inside the node namespace.
  void NewDataplane(const std::function<void(NftOptions&)>& mutate = nullptr) {
    NftOptions o;
    o.families = {IpFamily::kIPv4};
    o.cluster_cidrs = {Net("10.99.2.0/24")};
    if (mutate) mutate(o);
    InNetns in(node_);
    auto handle = std::make_unique<NetlinkNftHandle>();
    Status st = handle->Open(o.max_batch_bytes);
    ASSERT_TRUE(st.ok()) << st.message();
    // As NewNftDataplane does: sized sets only where the kernel can raise them.
    auto sizes = NftSetSizesUpdate(*handle);
    ASSERT_TRUE(sizes.ok()) << sizes.status().message();
    o.set_sizes_update = *sizes;
    dataplane_ =
        std::make_unique<NftDataplane>(o, std::move(handle), std::make_unique<NetlinkConntrack>());
  }

  void TearDown() override {
    dataplane_.reset();
    backends_.clear();
    // netns_ removes the namespaces when the fixture goes.
  }

  Status Apply(bool full = false) {
    InNetns in(node_);  // conntrack runs as a subprocess of this thread
    return dataplane_->Apply(builder_.Build(), full);
  }

  void Web(const std::vector<EndpointInfo>& eps,
           const std::function<void(ServicePortInfo&)>& mutate = nullptr) {
    builder_.Add(Svc("default", "web", "", Protocol::kTCP, 80, "172.30.0.10",
                     [&](ServicePortInfo& s) {
                       s.node_port = 30080;
                       if (mutate) mutate(s);
                     }),
                 eps);
  }
  void Dns(const std::vector<EndpointInfo>& eps) {
    builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, "172.30.0.10"), eps);
  }
  // Which backends answered (the server part of "<server> <peer>").
  std::set<std::string> Answers(int type, const std::string& ip, int port, int n = 24) {
    std::set<std::string> out;
    for (const auto& r : Replies(type, ip, port, n)) out.insert(r.substr(0, r.find(' ')));
    return out;
  }
  std::set<std::string> Replies(int type, const std::string& ip, int port, int n = 24) {
    std::set<std::string> out;
    for (int i = 0; i < n; ++i) out.insert(Request(client_, type, ip, port));
    return out;
  }

  TestNetns netns_{"kpx-nft"};
  std::string client_, node_, backend_;
  std::vector<std::unique_ptr<TestBackend>> backends_;
  std::unique_ptr<NftDataplane> dataplane_;
  StateBuilderForTest builder_{"node-a"};
};

TEST_F(NftIntegrationTest, ClusterIpNodePortEndpointChangesAndCleanup) {
  const std::set<std::string> both = {kBackend1, kBackend2};
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Dns({Ep(kBackend1, 5353), Ep(kBackend2, 5353)});
  builder_.Add(Svc("default", "empty", "", Protocol::kTCP, 80, "172.30.0.11"), {});
  builder_.Add(Svc("default", "empty", "dns", Protocol::kUDP, 53, "172.30.0.11"), {});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_THAT(Output(node_, {"nft", "list", "map", "ip", "kpx", "policies"}),
              ::testing::HasSubstr("goto internal-cluster"));

  // ClusterIP balances over both backends, for TCP and UDP; NodePort works from outside.
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  EXPECT_EQ(Answers(SOCK_DGRAM, "172.30.0.10", 53), both);
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);

  // No endpoints: refused (ICMP port unreachable), not a black hole.
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.11", 80, std::chrono::milliseconds(5000)),
            "refused");
  EXPECT_EQ(Request(client_, SOCK_DGRAM, "172.30.0.11", 53), "refused");

  // Endpoint removed, then added back: partial syncs writing elements only.
  const uint64_t rules_before = dataplane_->counters().rules_written;
  Web({Ep(kBackend1, 8080)});
  Dns({Ep(kBackend1, 5353)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().partial_syncs, 1u);
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), std::set<std::string>{kBackend1});
  EXPECT_EQ(Answers(SOCK_DGRAM, "172.30.0.10", 53), std::set<std::string>{kBackend1});
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  // The empty service gains an endpoint.
  builder_.Add(Svc("default", "empty", "", Protocol::kTCP, 80, "172.30.0.11"),
               {Ep(kBackend2, 8080)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.11", 80, 1), std::set<std::string>{kBackend2});
  EXPECT_EQ(dataplane_->counters().rules_written, rules_before);

  // A full resync of an intact table writes nothing: what the kernel dumps equals what kpx
  // would write, rule for rule and element for element.
  const uint64_t messages = dataplane_->counters().messages;
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().messages, messages);
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);

  {
    InNetns in(node_);
    st = dataplane_->Cleanup();
  }
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Output(node_, {"nft", "list", "tables"}), "");  // nothing of kpx's is left
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.10", 80), "timeout");
}

// Growing sets carry a size the kernel enforces (ENFILE past it). A partial sync that takes one
// past it raises the size first, in a transaction of its own, and the services added past the
// old size take traffic.
TEST_F(NftIntegrationTest, SetsTakenPastTheirSizeAreRaisedInTheKernel) {
  bool updates = false;
  {
    InNetns in(node_);
    NetlinkNftHandle handle;
    ASSERT_TRUE(handle.Open(1 << 20).ok());
    auto answer = NftSetSizesUpdate(handle);
    ASSERT_TRUE(answer.ok()) << answer.status().message();
    updates = *answer;
  }
  EXPECT_EQ(Output(node_, {"nft", "list", "tables"}), "") << "the probe removes its table";
  // The fixture probes too: sized sets where the kernel can raise them (Linux 6.5 and later),
  // none on older kernels (Debian 12's 6.1 in the VM run), where the sets take what comes.
  NewDataplane([](NftOptions& o) { o.min_set_size = 1; });
  Web({Ep(kBackend1, 8080)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  const std::string size_before = "size " + std::to_string(NftSetCapacity(1, 1));
  if (updates) {
    EXPECT_THAT(Output(node_, {"nft", "list", "map", "ip", "kpx", "service-ids"}),
                ::testing::HasSubstr(size_before));
  } else {
    EXPECT_THAT(Output(node_, {"nft", "list", "map", "ip", "kpx", "service-ids"}),
                ::testing::AllOf(::testing::HasSubstr("service-ids"),
                                 ::testing::Not(::testing::HasSubstr("size "))));
  }
  for (int i = 1; i <= 8; ++i) {
    builder_.Add(Svc("default", "s" + std::to_string(i), "", Protocol::kTCP, 80,
                     "172.30.1." + std::to_string(i)),
                 {Ep(kBackend2, 8080)});
  }
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().partial_syncs, 1u);
  if (updates) {
    EXPECT_GE(dataplane_->counters().set_size_raises, 3u);
    EXPECT_THAT(Output(node_, {"nft", "list", "map", "ip", "kpx", "service-ids"}),
                ::testing::HasSubstr("size " + std::to_string(NftSetCapacity(9, 1))));
  } else {
    EXPECT_EQ(dataplane_->counters().set_size_raises, 0u);
  }
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.1.8", 80, 1), std::set<std::string>{kBackend2});
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80, 1), std::set<std::string>{kBackend1});
}

TEST_F(NftIntegrationTest, APodReachingItselfThroughAServiceIsMasqueraded) {
  // The backend namespace's first address reaches a service whose one endpoint is itself: the
  // reply must come back through the node, so the node masquerades (the endpoint sees the node's
  // address). Without it the kernel drops a packet arriving with its own address as source.
  const std::string node_side = "10.99.2.1";
  // Reported on another node: only a pod on this node can come back to itself through this
  // node's DNAT, so only local endpoints get the pair (as in kube-proxy's IPVS mode); here that
  // shows as the unmasqueraded hairpin failing.
  Web({Ep(kBackend1, 8080)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Request(backend_, SOCK_STREAM, "172.30.0.10", 80), "timeout");
  Web({LocalEp(kBackend1, 8080)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Request(backend_, SOCK_STREAM, "172.30.0.10", 80),
            std::string(kBackend1) + " " + node_side);
  // The pair goes with the last local endpoint at that address.
  EXPECT_NE(Output(node_, {"nft", "list", "set", "ip", "kpx", "hairpin"}).find(kBackend1),
            std::string::npos);
  Web({Ep(kBackend2, 8080)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Output(node_, {"nft", "list", "set", "ip", "kpx", "hairpin"}).find(kBackend1),
            std::string::npos);
}

TEST_F(NftIntegrationTest, TopologyHintsAndTerminatingFallbackSteerRealTraffic) {
  builder_.Node([](NodeState& n) {
    n.addresses = {Ip(kNodeIp)};
    n.zone = "zone-a";
  });
  // Every ready endpoint has a zone hint and one is for this node's zone: only it is used.
  Web({Ep(kBackend1, 8080, [](EndpointInfo& e) { e.hint_zones = {"zone-a"}; }),
       Ep(kBackend2, 8080, [](EndpointInfo& e) { e.hint_zones = {"zone-b"}; })});
  // externalTrafficPolicy Local whose only local endpoint is terminating but still serving:
  // external traffic falls back to it rather than being dropped; the cluster IP keeps to the
  // ready endpoint elsewhere.
  builder_.Add(Svc("default", "api", "", Protocol::kTCP, 80, "172.30.0.20",
                   [](ServicePortInfo& s) {
                     s.node_port = 30081;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080), LocalEp(kBackend2, 8080, [](EndpointInfo& e) {
                  e.ready = false;
                  e.serving = true;
                  e.terminating = true;
                })});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), std::set<std::string>{kBackend1});
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30081), std::set<std::string>{kBackend2});
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.20", 80), std::set<std::string>{kBackend1});
  // A hint for a zone that has no endpoint of its own: hints are ignored, both are used.
  Web({Ep(kBackend1, 8080, [](EndpointInfo& e) { e.hint_zones = {"zone-b"}; }),
       Ep(kBackend2, 8080, [](EndpointInfo& e) { e.hint_zones = {"zone-b"}; })});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), (std::set<std::string>{kBackend1, kBackend2}));
}

TEST_F(NftIntegrationTest, TrafficPoliciesDropRejectAndMasquerade) {
  const std::set<std::string> both = {kBackend1, kBackend2};
  const std::string node_side = "10.99.2.1";  // the node's address towards the backends
  // Cluster policy everywhere: off-cluster clients are masqueraded (they are outside
  // --cluster-cidr), NodePorts too.
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  // externalTrafficPolicy Local with one local endpoint: the NodePort reaches only it, and it
  // sees the client's own address.
  builder_.Add(Svc("default", "api", "", Protocol::kTCP, 80, "172.30.0.20",
                   [](ServicePortInfo& s) {
                     s.node_port = 30081;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080), LocalEp(kBackend2, 8080)});
  // An external IP (routed to the node by the client's default route), Cluster policy.
  builder_.Add(Svc("default", "ext", "", Protocol::kTCP, 80, "172.30.0.21",
                   [](ServicePortInfo& s) { s.external_ips = {Ip("203.0.113.10")}; }),
               {Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  // externalTrafficPolicy Local without a local endpoint: external traffic is dropped, the
  // cluster IP still works.
  builder_.Add(Svc("default", "nolocal", "", Protocol::kTCP, 80, "172.30.0.22",
                   [](ServicePortInfo& s) {
                     s.node_port = 30082;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080)});
  // internalTrafficPolicy Local without a local endpoint: the cluster IP drops.
  builder_.Add(Svc("default", "itp", "", Protocol::kTCP, 80, "172.30.0.23",
                   [](ServicePortInfo& s) { s.internal_policy = TrafficPolicy::kLocal; }),
               {Ep(kBackend1, 8080)});
  // LoadBalancer IPs: one open, one whose loadBalancerSourceRanges include the client, one
  // whose ranges do not.
  builder_.Add(Svc("default", "lb", "", Protocol::kTCP, 80, "172.30.0.24",
                   [](ServicePortInfo& s) {
                     s.node_port = 30084;
                     s.load_balancer_ips = {Ip("203.0.113.20")};
                   }),
               {Ep(kBackend1, 8080)});
  builder_.Add(Svc("default", "lbfw", "", Protocol::kTCP, 80, "172.30.0.25",
                   [](ServicePortInfo& s) {
                     s.node_port = 30085;
                     s.load_balancer_ips = {Ip("203.0.113.21")};
                     s.load_balancer_source_ranges = {Net("10.99.1.0/24")};
                   }),
               {Ep(kBackend1, 8080)});
  builder_.Add(Svc("default", "lbdeny", "", Protocol::kTCP, 80, "172.30.0.26",
                   [](ServicePortInfo& s) {
                     s.node_port = 30086;
                     s.load_balancer_ips = {Ip("203.0.113.22")};
                     s.load_balancer_source_ranges = {Net("192.0.2.0/24"), Net("10.99.0.0/24")};
                   }),
               {Ep(kBackend1, 8080)});
  // Ranges only in the other family let nobody of this one in (README "Fail-closed source
  // ranges"; kube-proxy would leave it open).
  builder_.Add(Svc("default", "lbv6only", "", Protocol::kTCP, 80, "172.30.0.27",
                   [](ServicePortInfo& s) {
                     s.load_balancer_ips = {Ip("203.0.113.23")};
                     s.load_balancer_source_ranges = {Net("2001:db8::/64")};
                   }),
               {Ep(kBackend1, 8080)});
  const Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "203.0.113.20", 80, 2), std::set<std::string>{kBackend1});
  EXPECT_EQ(Answers(SOCK_STREAM, "203.0.113.21", 80, 2), std::set<std::string>{kBackend1});
  EXPECT_EQ(Request(client_, SOCK_STREAM, "203.0.113.22", 80, std::chrono::milliseconds(1500)),
            "timeout");
  EXPECT_EQ(Request(client_, SOCK_STREAM, "203.0.113.23", 80, std::chrono::milliseconds(1500)),
            "timeout");
  // NodePorts are not subject to the ranges.
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30086, 2), std::set<std::string>{kBackend1});

  EXPECT_EQ(Replies(SOCK_STREAM, "172.30.0.10", 80),
            (std::set<std::string>{std::string(kBackend1) + " " + node_side,
                                   std::string(kBackend2) + " " + node_side}));
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);
  EXPECT_EQ(Replies(SOCK_STREAM, kNodeIp, 30081),
            std::set<std::string>{std::string(kBackend2) + " " + kClientIp});
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.20", 80), both);
  EXPECT_EQ(Replies(SOCK_STREAM, "203.0.113.10", 80),
            (std::set<std::string>{std::string(kBackend1) + " " + node_side,
                                   std::string(kBackend2) + " " + node_side}));
  // Dropped, not refused: the client waits.
  EXPECT_EQ(Request(client_, SOCK_STREAM, kNodeIp, 30082, std::chrono::milliseconds(1500)),
            "timeout");
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.22", 80, 4), std::set<std::string>{kBackend1});
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.23", 80, std::chrono::milliseconds(1500)),
            "timeout");

  // The local endpoint goes away: now the api NodePort drops too; it comes back: answers.
  builder_.Add(Svc("default", "api", "", Protocol::kTCP, 80, "172.30.0.20",
                   [](ServicePortInfo& s) {
                     s.node_port = 30081;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Request(client_, SOCK_STREAM, kNodeIp, 30081, std::chrono::milliseconds(1500)),
            "timeout");
  builder_.Add(Svc("default", "api", "", Protocol::kTCP, 80, "172.30.0.20",
                   [](ServicePortInfo& s) {
                     s.node_port = 30081;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080), LocalEp(kBackend1, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30081, 4), std::set<std::string>{kBackend1});
  // A full resync of all of this (range elements included) finds nothing to write.
  const uint64_t messages = dataplane_->counters().messages;
  ASSERT_TRUE(Apply(/*full=*/true).ok());
  EXPECT_EQ(dataplane_->counters().messages, messages);
}

// detectLocalMode by input interface: a client arriving on an interface the detector names is
// pod traffic (not masqueraded: the backend sees the client), any other is masqueraded (the
// backend sees the node). The client comes in on the node's "kn0".
TEST_F(NftIntegrationTest, InterfaceDetectorsDecideWhoIsMasqueraded) {
  const std::string node_side = "10.99.2.1";
  struct Case {
    NftLocalDetect mode;
    std::string name;
    std::string seen;  // the source the backend sees
  };
  const std::vector<Case> cases = {
      {NftLocalDetect::kInterfaceNamePrefix, "kn", kClientIp},  // prefix of kn0: a pod
      {NftLocalDetect::kInterfaceNamePrefix, "kb", node_side},
      {NftLocalDetect::kBridgeInterface, "kn0", kClientIp},  // exact name
      {NftLocalDetect::kBridgeInterface, "kn", node_side},   // exact: "kn" is not "kn0"
  };
  Web({Ep(kBackend1, 8080)});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    NewDataplane([&](NftOptions& o) {
      o.local_detect = c.mode;
      o.local_interface = c.name;
    });
    // Each detector is a different layout: the full sync rewrites the masquerade chains.
    Status st = Apply(/*full=*/true);
    ASSERT_TRUE(st.ok()) << st.message();
    // New connections only: a reused conntrack entry would keep its first NAT decision.
    EXPECT_EQ(Replies(SOCK_STREAM, "172.30.0.10", 80, 4),
              std::set<std::string>{std::string(kBackend1) + " " + c.seen});
  }
}

TEST_F(NftIntegrationTest, RestartAdoptsTheTableWithoutFailingAConnection) {
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Dns({Ep(kBackend1, 5353)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread client([&] {
    while (!stop) {
      const std::string r = Request(client_, SOCK_STREAM, "172.30.0.10", 80);
      if (r.rfind(kBackend1, 0) == 0 || r.rfind(kBackend2, 0) == 0) {
        ++ok;
      } else {
        ++failed;
      }
    }
  });
  for (int restart = 0; restart < 3; ++restart) {
    while (ok < 20 * (restart + 1)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    NewDataplane();  // kpx restarted: a new process state, the kernel table untouched
    Dns({Ep(kBackend1, 5353)});
    st = Apply();
    ASSERT_TRUE(st.ok()) << st.message();
    // Adoption: the table already matched, nothing was written.
    EXPECT_EQ(dataplane_->counters().messages, 0u);
  }
  while (ok < 80) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  client.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(ok.load(), 80);
}

// An upgrade across a layout change at scale: kpx finds a table of an older layout (here: a map
// this layout no longer has), builds the new layout in the shadow table, then rebuilds its own,
// in many transactions each. A client connecting again and again to the service written last
// never fails.
TEST_F(NftIntegrationTest, ALayoutChangeRebuildsTheTableWithoutFailingAConnection) {
  constexpr int kServices = 1500;
  for (int i = 0; i < kServices; ++i) {
    builder_.Add(Svc("default", "s" + std::to_string(i), "", Protocol::kTCP, 80,
                     "172.30." + std::to_string(1 + i / 250) + "." + std::to_string(i % 250 + 1)),
                 {Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  }
  NewDataplane([](NftOptions& o) { o.max_batch_bytes = 16 * 1024; });
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  // The service a rebuild in place writes last (s999, the last name in the state's order).
  const std::string last = "172.30.4.250";
  ASSERT_EQ(Request(client_, SOCK_STREAM, last, 80).substr(0, 6), "10.99.");
  ASSERT_TRUE(RunCommand({"ip", "netns", "exec", node_, "nft", "add", "map", "ip", "kpx",
                          "service-ips", "{ type ipv4_addr : mark; }"})
                  .ok());
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread client([&] {
    while (!stop) {
      const std::string r = Request(client_, SOCK_STREAM, last, 80);
      if (r.rfind(kBackend1, 0) == 0 || r.rfind(kBackend2, 0) == 0) {
        ++ok;
      } else {
        ++failed;
      }
    }
  });
  while (ok < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  NewDataplane([](NftOptions& o) { o.max_batch_bytes = 16 * 1024; });
  st = Apply();
  const uint64_t transactions = dataplane_->counters().transactions;
  const int ok_at_end = ok;
  while (ok < ok_at_end + 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  client.join();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GE(transactions, 10u) << "a rebuild in many transactions";
  EXPECT_EQ(failed.load(), 0);
  // (`nft list tables` cannot say: nft 1.0.6 aborts decoding kpx's rules, see the README.)
  auto shadow = dataplane_->handle().Dump(IpFamily::kIPv4, nft::kShadowTable);
  ASSERT_TRUE(shadow.ok()) << shadow.status().message();
  EXPECT_FALSE(shadow->exists) << "no shadow left";
  EXPECT_EQ(Output(node_, {"nft", "list", "map", "ip", "kpx", "service-ips"}), "");
  // Rebuilt: a full resync now finds nothing to write.
  const uint64_t messages = dataplane_->counters().messages;
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().messages, messages);
}

TEST_F(NftIntegrationTest, FullSyncRepairsWhatNftDeleted) {
  const std::set<std::string> both = {kBackend1, kBackend2};
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  // Someone removes the service's dispatch element and empties the NodePort path.
  EXPECT_TRUE(netns_
                  .Exec("n", {"nft", "delete", "element", "ip", "kpx", "service-ids",
                              "{ 172.30.0.10 . tcp . 80 }"})
                  .ok());
  EXPECT_TRUE(netns_.Exec("n", {"nft", "flush", "chain", "ip", "kpx", "services"}).ok());
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.10", 80, std::chrono::milliseconds(1000)),
            "timeout");
  // A partial sync trusts its cache; the (periodic) full sync compares with the kernel.
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);
}

TEST_F(NftIntegrationTest, DualStackServiceOverIpv6) {
  // IPv6 plan: client fd99:1::2 -- node fd99:1::1 | node fd99:2::1 -- backend fd99:2::2.
  const std::vector<std::pair<std::string, std::vector<std::string>>> setup = {
      {"c", {"addr", "add", "fd99:1::2/64", "dev", "kc0", "nodad"}},
      {"n", {"addr", "add", "fd99:1::1/64", "dev", "kn0", "nodad"}},
      {"n", {"addr", "add", "fd99:2::1/64", "dev", "kn1", "nodad"}},
      {"b", {"addr", "add", "fd99:2::2/64", "dev", "kb0", "nodad"}},
      {"c", {"-6", "route", "add", "default", "via", "fd99:1::1"}},
      {"b", {"-6", "route", "add", "default", "via", "fd99:2::1"}},
      {"n", {"-6", "route", "add", "default", "via", "fd99:2::2"}},
  };
  for (const auto& [role, args] : setup) {
    const Status st = netns_.Ip(role, args);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  ASSERT_TRUE(netns_.Exec("n", {"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"}).ok());
  StartBackend("fd99:2::2", 8080);
  {
    NftOptions o;
    o.cluster_cidrs = {Net("10.99.2.0/24"), Net("fd99:2::/64")};
    InNetns in(node_);
    auto handle = std::make_unique<NetlinkNftHandle>();
    ASSERT_TRUE(handle->Open(o.max_batch_bytes).ok());
    dataplane_ = std::make_unique<NftDataplane>(o, std::move(handle), nullptr);
  }
  builder_.Node([](NodeState& n) { n.addresses = {Ip(kNodeIp), Ip("fd99:1::1")}; });
  builder_.Add(Svc("default", "web", "", Protocol::kTCP, 80, "172.30.0.10,fd00:30::10",
                   [](ServicePortInfo& s) { s.node_port = 30080; }),
               {Ep(kBackend1, 8080), Ep("fd99:2::2", 8080)});
  builder_.Add(Svc("default", "empty6", "", Protocol::kTCP, 80, "fd00:30::11"), {});
  const Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_THAT(Output(node_, {"nft", "list", "map", "ip6", "kpx", "policies"}),
              ::testing::HasSubstr("goto external-cluster"));
  // The client is outside the IPv6 cluster CIDR: masqueraded to the node's address.
  std::string r;
  for (int i = 0; i < 20 && (r = Request(client_, SOCK_STREAM, "fd00:30::10", 80)) == "timeout";
       ++i) {
  }
  EXPECT_EQ(r, "fd99:2::2 fd99:2::1");
  EXPECT_EQ(Request(client_, SOCK_STREAM, "fd99:1::1", 30080).substr(0, 9), "fd99:2::2");
  EXPECT_EQ(Request(client_, SOCK_STREAM, "fd00:30::11", 80, std::chrono::milliseconds(5000)),
            "refused");
  // IPv4 still works beside it.
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80, 4), std::set<std::string>{kBackend1});
}

TEST_F(NftIntegrationTest, ClientIpAffinitySticksAndFollowsEndpointChanges) {
  auto sticky = [&](const std::vector<EndpointInfo>& eps) {
    builder_.Add(Svc("default", "sticky", "", Protocol::kTCP, 80, "172.30.0.30",
                     [](ServicePortInfo& s) {
                       s.node_port = 30090;
                       s.session_affinity_client_ip = true;
                       s.session_affinity_timeout_seconds = 30;
                     }),
                 eps);
  };
  sticky({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});  // no affinity: both answer
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  const std::set<std::string> first = Answers(SOCK_STREAM, "172.30.0.30", 80);
  ASSERT_EQ(first.size(), 1u);
  const std::string chosen = *first.begin();
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30090), first);  // NodePort: same service, same client
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80).size(), 2u);
  // (nft 1.0.6 cannot print the affinity chains' rules, see README; their names it can.)
  EXPECT_THAT(Output(node_, {"nft", "list", "chains", "ip"}),
              ::testing::HasSubstr("chain affinity-30"));

  // The chosen endpoint goes away: the client moves to the other one and stays there, also
  // when the first comes back.
  const std::string other = chosen == kBackend1 ? kBackend2 : kBackend1;
  sticky({Ep(other, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(dataplane_->counters().affinity_pruned, 1u);  // the client's entry for `chosen`
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.30", 80, 6), std::set<std::string>{other});
  sticky({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.30", 80), std::set<std::string>{other});

  // A full resync of an intact table (dynamic affinity entries included) writes nothing.
  const uint64_t messages = dataplane_->counters().messages;
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().messages, messages);

  // Affinity switched off: balanced again, and the timeout's chain is gone.
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  builder_.Add(Svc("default", "sticky", "", Protocol::kTCP, 80, "172.30.0.30"),
               {Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.30", 80).size(), 2u);
  EXPECT_THAT(Output(node_, {"nft", "list", "chains", "ip"}),
              ::testing::Not(::testing::HasSubstr("affinity-30")));
}

TEST_F(NftIntegrationTest, UdpConntrackEntriesOfRemovedEndpointsAreDeleted) {
  Dns({Ep(kBackend1, 5353), Ep(kBackend2, 5353)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  UdpSession session(client_, 40053);
  ASSERT_TRUE(session.bound());
  const std::string first = session.Ask("172.30.0.10", 53);
  ASSERT_TRUE(first == kBackend1 || first == kBackend2) << first;
  EXPECT_EQ(session.Ask("172.30.0.10", 53), first);  // same flow, same endpoint
  const std::string other = first == kBackend1 ? kBackend2 : kBackend1;
  Dns({Ep(other, 5353)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GT(dataplane_->counters().conntrack_deletions, 0u);
  // Without the deletion the flow's entry would keep DNATing to the removed endpoint.
  EXPECT_EQ(session.Ask("172.30.0.10", 53), other);
}

// SCTP through a ClusterIP and a NodePort, balanced over both endpoints and masqueraded (the
// client is outside the cluster CIDR). The build host's kernel has no SCTP: there this skips, and
// the nft_sctp_vm CTest runs it in the tests/vm VM (Debian's kernel, module sctp), where
// KPX_REQUIRE_SCTP=1 makes a missing SCTP a failure.
TEST_F(NftIntegrationTest, SctpClusterIpAndNodePort) {
  if (const std::string why = testing::SctpUnavailable(); !why.empty()) {
    if (testing::SctpRequired()) FAIL() << why << " (KPX_REQUIRE_SCTP=1)";
    GTEST_SKIP() << why;
  }
  {
    InNetns in(backend_);
    for (const char* ip : {kBackend1, kBackend2}) {
      backends_.push_back(std::make_unique<TestBackend>(
          ip, ip, 8080, 0, TestBackend::Mode::kGreetEcho, Transport::kSctp));
      ASSERT_TRUE(backends_.back()->ok()) << "SCTP backend " << ip;
    }
  }
  builder_.Add(Svc("default", "sig", "", Protocol::kSCTP, 9, "172.30.0.40",
                   [](ServicePortInfo& s) { s.node_port = 30099; }),
               {Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  const Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  // "<backend> <peer ip>" per association, as Request() reports TCP.
  const auto replies = [&](const std::string& ip, int port) {
    std::set<std::string> out;
    InNetns in(client_);
    for (int i = 0; i < 16; ++i) {
      const std::string line = ExchangeOnce(Transport::kSctp, ip, port, 2000);
      const size_t sp = line.find(' ');
      const std::string peer = line.substr(sp + 1);
      out.insert(line.rfind("ERROR", 0) == 0
                     ? line
                     : line.substr(0, sp) + " " + peer.substr(0, peer.rfind(':')));
    }
    return out;
  };
  const std::string node_side = "10.99.2.1";  // the node's address towards the backends
  const std::set<std::string> both = {std::string(kBackend1) + " " + node_side,
                                      std::string(kBackend2) + " " + node_side};
  EXPECT_EQ(replies("172.30.0.40", 9), both);
  EXPECT_EQ(replies(kNodeIp, 30099), both);
  // The service is SCTP only: TCP to its port is not DNATed to the backends' TCP servers on the
  // same port number (they would answer in milliseconds; the wait is kept short).
  EXPECT_THAT(Request(client_, SOCK_STREAM, "172.30.0.40", 9, std::chrono::milliseconds(1000)),
              ::testing::Not(::testing::StartsWith("10.99.2.")));
}

TEST_F(NftIntegrationTest, KernelRefusesATransactionAfterAConcurrentWrite) {
  InNetns in(node_);
  NetlinkNftHandle handle;
  ASSERT_TRUE(handle.Open(1 << 20).ok());
  auto genid = handle.Generation();
  ASSERT_TRUE(genid.ok()) << genid.status().message();
  // Another writer commits.
  ASSERT_TRUE(RunCommand({"nft", "add", "table", "ip", "someone-else"}).ok());
  NftBatch batch(100);
  batch.AddTable(IpFamily::kIPv4, "kpx-probe");
  batch.RequireGeneration(*genid);
  const Status st = handle.Commit(batch);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), ::testing::HasSubstr("changed since kpx read it"));
  // With the current generation it goes through.
  auto now = handle.Generation();
  ASSERT_TRUE(now.ok());
  EXPECT_NE(*now, *genid);
  batch.RequireGeneration(*now);
  EXPECT_TRUE(handle.Commit(batch).ok());
}

}  // namespace
}  // namespace kpx
