// Behaviour of the rendered rules, checked by tracing packets through the stateful fake: where
// does (src, proto, dst, dport) end up, and is it masqueraded. These survive rule refactors that
// the golden tests would flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "proxier/iptables/iptables_renderer.h"
#include "proxier/netfilter/fake_iptables_runner.h"
#include "tests/proxier/iptables/packet_tracer.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using testing::PacketTracer;
using testing::StateBuilderForTest;
using testing::Svc;
using testing::TracePacket;
using Summary = std::map<std::string, double>;

// IP plan: node 192.168.0.2 / fd00::2 on eth0, pods 10.0.0.0/8 / fd00:10::/64 on veth*,
// services 172.30.0.0/16, external IPs 192.168.99.0/24, load balancers 1.2.3.0/24, outside
// clients 203.0.113.0/24 and 198.51.100.0/24.
const char* kNodeIp = "192.168.0.2";

IptablesOptions Options() {
  IptablesOptions o;
  o.localhost_nodeports = true;  // kube-proxy's default, for its rules
  o.cluster_cidrs = {Net("10.0.0.0/8"), Net("fd00:10::/64")};
  return o;
}

StateBuilderForTest Node() {
  StateBuilderForTest b("node-a");
  b.Node([](NodeState& n) { n.addresses = {Ip(kNodeIp), Ip("fd00::2")}; });
  return b;
}

class TracerTest : public ::testing::Test {
 protected:
  void Load(const DesiredState& state, const IptablesOptions& o = Options()) {
    for (IpFamily f : kIpFamilies) {
      for (const auto& j : KpxJumpRules(f, o)) ASSERT_TRUE(fake_.EnsureJump(f, j).ok());
      const std::string text = IptablesRenderer(o).Render(state, f, {});
      Status st = fake_.Restore(f, text);
      ASSERT_TRUE(st.ok()) << st.message() << "\n" << text;
    }
  }
  Summary From(const std::string& src, const std::string& dst, int port,
               Protocol proto = Protocol::kTCP, const std::string& iface = "eth0") {
    TracePacket p;
    p.src = Ip(src);
    p.dst = Ip(dst);
    p.dport = port;
    p.protocol = proto;
    p.in_interface = iface;
    return Tracer(p.src.family()).Summary(p);
  }
  Summary FromNode(const std::string& dst, int port, const std::string& src = kNodeIp) {
    TracePacket p;
    p.hook = TracePacket::Hook::kOutput;
    p.src = Ip(src);
    p.dst = Ip(dst);
    p.dport = port;
    return Tracer(p.src.family()).Summary(p);
  }
  PacketTracer Tracer(IpFamily f) { return PacketTracer(fake_, f, {Ip(kNodeIp), Ip("fd00::2")}); }

  FakeIptablesRunner fake_;
};

TEST_F(TracerTest, ClusterIpBalancesEvenlyAndMasqueradesOnlyOffClusterClients) {
  auto b = Node();
  b.Add(Svc("ns1", "svc1", "p80", Protocol::kTCP, 80, "172.30.0.41"),
        {Ep("10.180.0.1", 80), Ep("10.180.0.2", 80), Ep("10.180.0.3", 80), Ep("10.180.0.4", 80),
         Ep("10.180.0.5", 80)});
  Load(b.Build());
  const Summary pod = From("10.0.5.5", "172.30.0.41", 80);
  ASSERT_EQ(pod.size(), 5u);
  for (const auto& [dst, p] : pod) EXPECT_NEAR(p, 0.2, 1e-9) << dst;
  for (const auto& [dst, p] : From("203.0.113.9", "172.30.0.41", 80)) {
    EXPECT_THAT(dst, ::testing::EndsWith("+masq"));
  }
  for (const auto& [dst, p] : FromNode("172.30.0.41", 80))
    EXPECT_THAT(dst, ::testing::EndsWith("+masq"));
  // Wrong port or protocol: not a service, untouched.
  EXPECT_EQ(From("10.0.5.5", "172.30.0.41", 81), (Summary{{"ACCEPT", 1}}));
  EXPECT_EQ(From("10.0.5.5", "172.30.0.41", 80, Protocol::kUDP), (Summary{{"ACCEPT", 1}}));
}

TEST_F(TracerTest, HairpinIsMasqueraded) {
  auto b = Node();
  b.Add(Svc("ns1", "svc1", "", Protocol::kTCP, 80, "172.30.0.41"), {LocalEp("10.180.0.1", 8080)});
  Load(b.Build());
  EXPECT_EQ(From("10.180.0.1", "172.30.0.41", 80, Protocol::kTCP, "veth1"),
            (Summary{{"10.180.0.1:8080+masq", 1}}));
  EXPECT_EQ(From("10.180.0.9", "172.30.0.41", 80), (Summary{{"10.180.0.1:8080", 1}}));
}

TEST_F(TracerTest, NodePortAndExternalIpAreMasqueradedWithClusterPolicy) {
  auto b = Node();
  b.Add(Svc("ns2", "svc2", "", Protocol::kTCP, 80, "172.30.0.42",
            [](ServicePortInfo& s) {
              s.node_port = 30001;
              s.external_ips = {Ip("192.168.99.11")};
            }),
        {Ep("10.180.0.3", 8080)});
  Load(b.Build());
  const Summary want = {{"10.180.0.3:8080+masq", 1}};
  EXPECT_EQ(From("203.0.113.9", kNodeIp, 30001), want);
  EXPECT_EQ(From("203.0.113.9", "192.168.99.11", 80), want);
  EXPECT_EQ(FromNode(kNodeIp, 30001), want);
  EXPECT_EQ(FromNode("127.0.0.1", 30001, "127.0.0.1"), want);  // localhost NodePorts
  EXPECT_EQ(From("203.0.113.9", kNodeIp, 30002), (Summary{{"ACCEPT", 1}}));
}

TEST_F(TracerTest, ExternalTrafficPolicyLocalKeepsClientIpAndShortCircuitsPods) {
  auto b = Node();
  b.Add(Svc("ns3", "svc3", "", Protocol::kTCP, 80, "172.30.0.43",
            [](ServicePortInfo& s) {
              s.node_port = 30003;
              s.load_balancer_ips = {Ip("1.2.3.4")};
              s.external_policy = TrafficPolicy::kLocal;
            }),
        {Ep("10.180.2.1", 80), LocalEp("10.180.0.4", 80)});
  Load(b.Build());
  EXPECT_EQ(From("203.0.113.9", "1.2.3.4", 80), (Summary{{"10.180.0.4:80", 1}}));
  EXPECT_EQ(From("203.0.113.9", kNodeIp, 30003), (Summary{{"10.180.0.4:80", 1}}));
  // Pods and the node itself get Cluster behaviour for external addresses.
  EXPECT_EQ(From("10.0.5.5", "1.2.3.4", 80, Protocol::kTCP, "veth1"),
            (Summary{{"10.180.0.4:80", 0.5}, {"10.180.2.1:80", 0.5}}));
  EXPECT_EQ(FromNode(kNodeIp, 30003),
            (Summary{{"10.180.0.4:80+masq", 0.5}, {"10.180.2.1:80+masq", 0.5}}));
}

TEST_F(TracerTest, ExternalTrafficPolicyLocalWithoutLocalEndpointsDropsOutsideTraffic) {
  auto b = Node();
  b.Add(Svc("ns3", "svc3", "", Protocol::kTCP, 80, "172.30.0.43",
            [](ServicePortInfo& s) {
              s.node_port = 30003;
              s.load_balancer_ips = {Ip("1.2.3.4")};
              s.external_policy = TrafficPolicy::kLocal;
            }),
        {Ep("10.180.2.1", 80)});
  Load(b.Build());
  EXPECT_EQ(From("203.0.113.9", "1.2.3.4", 80), (Summary{{"DROP", 1}}));
  EXPECT_EQ(From("203.0.113.9", kNodeIp, 30003), (Summary{{"DROP", 1}}));
  EXPECT_EQ(From("10.0.5.5", "1.2.3.4", 80, Protocol::kTCP, "veth1"),
            (Summary{{"10.180.2.1:80", 1}}));
  EXPECT_EQ(From("10.0.5.5", "172.30.0.43", 80), (Summary{{"10.180.2.1:80", 1}}));
}

TEST_F(TracerTest, InternalTrafficPolicyLocal) {
  auto b = Node();
  b.Add(Svc("ns4", "with", "", Protocol::kUDP, 53, "172.30.0.44",
            [](ServicePortInfo& s) { s.internal_policy = TrafficPolicy::kLocal; }),
        {Ep("10.180.2.1", 53), LocalEp("10.180.0.5", 53)});
  b.Add(Svc("ns4", "without", "", Protocol::kUDP, 53, "172.30.0.45",
            [](ServicePortInfo& s) { s.internal_policy = TrafficPolicy::kLocal; }),
        {Ep("10.180.2.1", 53)});
  Load(b.Build());
  EXPECT_EQ(From("10.0.5.5", "172.30.0.44", 53, Protocol::kUDP), (Summary{{"10.180.0.5:53", 1}}));
  EXPECT_EQ(From("10.0.5.5", "172.30.0.45", 53, Protocol::kUDP), (Summary{{"DROP", 1}}));
}

TEST_F(TracerTest, BothPoliciesLocalStillShortCircuitPodsToClusterEndpoints) {
  auto b = Node();
  b.Add(Svc("ns4", "both", "", Protocol::kTCP, 80, "172.30.0.46",
            [](ServicePortInfo& s) {
              s.internal_policy = TrafficPolicy::kLocal;
              s.external_policy = TrafficPolicy::kLocal;
              s.external_ips = {Ip("192.168.99.46")};
            }),
        {Ep("10.180.2.1", 80)});
  Load(b.Build());
  EXPECT_EQ(From("10.0.5.5", "172.30.0.46", 80), (Summary{{"DROP", 1}}));
  EXPECT_EQ(From("203.0.113.9", "192.168.99.46", 80), (Summary{{"DROP", 1}}));
  EXPECT_EQ(From("10.0.5.5", "192.168.99.46", 80, Protocol::kTCP, "veth1"),
            (Summary{{"10.180.2.1:80", 1}}));
}

TEST_F(TracerTest, LoadBalancerSourceRanges) {
  auto b = Node();
  b.Add(Svc("ns5", "svc5", "", Protocol::kTCP, 443, "172.30.0.45",
            [](ServicePortInfo& s) {
              s.node_port = 30005;
              s.load_balancer_ips = {Ip("1.2.3.5")};
              s.load_balancer_source_ranges = {Net("203.0.113.0/25")};
            }),
        {Ep("10.180.0.6", 8443)});
  Load(b.Build());
  EXPECT_EQ(From("203.0.113.5", "1.2.3.5", 443), (Summary{{"10.180.0.6:8443+masq", 1}}));
  EXPECT_EQ(From("203.0.113.200", "1.2.3.5", 443), (Summary{{"DROP", 1}}));
  EXPECT_EQ(From("198.51.100.1", "1.2.3.5", 443), (Summary{{"DROP", 1}}));
  // NodePorts are not subject to the source ranges (kube-proxy behaves the same).
  EXPECT_EQ(From("198.51.100.1", kNodeIp, 30005), (Summary{{"10.180.0.6:8443+masq", 1}}));
}

TEST_F(TracerTest, AffinityFallsBackToEvenSpreadWithoutHistory) {
  auto b = Node();
  b.Add(Svc("ns6", "svc6", "", Protocol::kTCP, 80, "172.30.0.46",
            [](ServicePortInfo& s) { s.session_affinity_client_ip = true; }),
        {Ep("10.180.0.7", 80), Ep("10.180.0.8", 80), Ep("10.180.0.9", 80)});
  Load(b.Build());
  const Summary s = From("10.0.5.5", "172.30.0.46", 80);
  ASSERT_EQ(s.size(), 3u);
  for (const auto& [dst, p] : s) EXPECT_NEAR(p, 1.0 / 3, 1e-9) << dst;
}

TEST_F(TracerTest, NoEndpointsIsRejectedEverywhere) {
  auto b = Node();
  b.Add(Svc("ns7", "svc7", "", Protocol::kTCP, 80, "172.30.0.47",
            [](ServicePortInfo& s) {
              s.node_port = 30007;
              s.external_ips = {Ip("192.168.99.17")};
            }),
        {});
  Load(b.Build());
  const Summary reject = {{"REJECT", 1}};
  EXPECT_EQ(From("10.0.5.5", "172.30.0.47", 80), reject);
  EXPECT_EQ(FromNode("172.30.0.47", 80), reject);
  EXPECT_EQ(From("203.0.113.9", kNodeIp, 30007), reject);
  EXPECT_EQ(From("203.0.113.9", "192.168.99.17", 80), reject);
}

TEST_F(TracerTest, TerminatingEndpointsServeOnlyWhenNothingIsReady) {
  auto terminating = [](EndpointInfo& e) {
    e.ready = false;
    e.terminating = true;
  };
  auto b = Node();
  b.Add(Svc("ns8", "svc8", "", Protocol::kTCP, 80, "172.30.0.48"),
        {Ep("10.180.0.11", 80, terminating)});
  Load(b.Build());
  EXPECT_EQ(From("10.0.5.5", "172.30.0.48", 80), (Summary{{"10.180.0.11:80", 1}}));
  b.Add(Svc("ns8", "svc8", "", Protocol::kTCP, 80, "172.30.0.48"),
        {Ep("10.180.0.11", 80, terminating), Ep("10.180.0.12", 80)});
  Load(b.Build());
  EXPECT_EQ(From("10.0.5.5", "172.30.0.48", 80), (Summary{{"10.180.0.12:80", 1}}));
}

TEST_F(TracerTest, DualStackUsesEachFamilysRules) {
  auto b = Node();
  b.Add(Svc("ns9", "svc9", "", Protocol::kTCP, 80, "172.30.0.49,fd00:172:30::49"),
        {Ep("10.180.0.13", 80), Ep("fd00:10::13", 80)});
  Load(b.Build());
  EXPECT_EQ(From("fd00:10::5", "fd00:172:30::49", 80), (Summary{{"[fd00:10::13]:80", 1}}));
  EXPECT_EQ(From("2001:db8::1", "fd00:172:30::49", 80), (Summary{{"[fd00:10::13]:80+masq", 1}}));
  EXPECT_EQ(From("10.0.5.5", "172.30.0.49", 80), (Summary{{"10.180.0.13:80", 1}}));
}

// Issue 17, a deliberate difference (README "Fail-closed source ranges"): a dual-stack load
// balancer whose source ranges are all IPv4 lets nobody in over IPv6, where kube-proxy would let
// everybody in.
TEST_F(TracerTest, SourceRangesInOneFamilyCloseTheOtherFamily) {
  auto b = Node();
  b.Add(Svc("ns9", "lb9", "", Protocol::kTCP, 443, "172.30.0.59,fd00:172:30::59",
            [](ServicePortInfo& s) {
              s.load_balancer_ips = {Ip("1.2.3.9"), Ip("2001:db8:1::9")};
              s.load_balancer_source_ranges = {Net("203.0.113.0/25")};
            }),
        {Ep("10.180.0.19", 8443), Ep("fd00:10::19", 8443)});
  Load(b.Build());
  EXPECT_EQ(From("203.0.113.5", "1.2.3.9", 443), (Summary{{"10.180.0.19:8443+masq", 1}}));
  EXPECT_EQ(From("198.51.100.1", "1.2.3.9", 443), (Summary{{"DROP", 1}}));
  EXPECT_EQ(From("2001:db8:2::1", "2001:db8:1::9", 443), (Summary{{"DROP", 1}}));
  EXPECT_EQ(From("fd00:10::5", "2001:db8:1::9", 443), (Summary{{"DROP", 1}}));
}

TEST_F(TracerTest, UdpAndSctpMatchTheirProtocolOnly) {
  auto b = Node();
  b.Add(Svc("ns10", "svc10", "dns", Protocol::kUDP, 53, "172.30.0.51"), {Ep("10.180.0.15", 5353)});
  b.Add(Svc("ns10", "svc10", "diameter", Protocol::kSCTP, 3868, "172.30.0.51"),
        {Ep("10.180.0.15", 3868)});
  Load(b.Build());
  EXPECT_EQ(From("10.0.5.5", "172.30.0.51", 53, Protocol::kUDP),
            (Summary{{"10.180.0.15:5353", 1}}));
  EXPECT_EQ(From("10.0.5.5", "172.30.0.51", 53, Protocol::kTCP), (Summary{{"ACCEPT", 1}}));
  EXPECT_EQ(From("10.0.5.5", "172.30.0.51", 3868, Protocol::kSCTP),
            (Summary{{"10.180.0.15:3868", 1}}));
}

TEST_F(TracerTest, MasqueradeAllMasqueradesPodsToo) {
  auto b = Node();
  b.Add(Svc("ns1", "svc1", "", Protocol::kTCP, 80, "172.30.0.41"), {Ep("10.180.0.1", 80)});
  IptablesOptions o = Options();
  o.masquerade_all = true;
  Load(b.Build(), o);
  EXPECT_EQ(From("10.0.5.5", "172.30.0.41", 80), (Summary{{"10.180.0.1:80+masq", 1}}));
}

TEST_F(TracerTest, InterfacePrefixDetectsPods) {
  auto b = Node();
  b.Add(Svc("ns1", "svc1", "", Protocol::kTCP, 80, "172.30.0.41"), {Ep("10.180.0.1", 80)});
  IptablesOptions o = Options();
  o.local_detect = LocalDetectMode::kInterfaceNamePrefix;
  o.local_interface = "veth";
  Load(b.Build(), o);
  EXPECT_EQ(From("10.0.5.5", "172.30.0.41", 80, Protocol::kTCP, "veth7"),
            (Summary{{"10.180.0.1:80", 1}}));
  EXPECT_EQ(From("10.0.5.5", "172.30.0.41", 80, Protocol::kTCP, "eth0"),
            (Summary{{"10.180.0.1:80+masq", 1}}));
}

TEST_F(TracerTest, PrefixTreeDispatchReachesEveryServiceInLogarithmicSteps) {
  auto b = Node();
  const int kServices = 300;
  for (int i = 0; i < kServices; ++i) {
    // Spread over the /16 in a scrambled order, plus one IP carrying two ports.
    const int host = (i * 7919) % 65000 + 1;
    const std::string ip =
        "172.30." + std::to_string(host / 256) + "." + std::to_string(host % 256);
    b.Add(Svc("ns", "s" + std::to_string(i), "", Protocol::kTCP, 80, ip),
          {Ep("10.180." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 80)});
  }
  b.Add(Svc("ns", "s0", "alt", Protocol::kTCP, 81, "172.30.0.1"), {Ep("10.180.9.9", 81)});
  IptablesOptions o = Options();
  o.dispatch = DispatchMode::kPrefixTree;
  const DesiredState state = b.Build();
  Load(state, o);
  size_t max_chains = 0;
  for (const auto& [name, port] : state.services) {
    TracePacket p;
    p.src = Ip("10.0.5.5");
    p.dst = *port->info.ClusterIp(IpFamily::kIPv4);
    p.dport = port->info.port;
    const auto outcomes = Tracer(IpFamily::kIPv4).Trace(p);
    ASSERT_EQ(outcomes.size(), 1u) << name.ToString();
    EXPECT_EQ(outcomes[0].dnat, port->For(IpFamily::kIPv4).all().front()->ToString())
        << name.ToString();
    size_t dst_chains = 0;
    for (const auto& c : outcomes[0].chains) dst_chains += c.starts_with("KUBE-DST-");
    max_chains = std::max(max_chains, dst_chains);
  }
  // 301 rules in leaves of <= 8: a balanced tree is 6 levels deep; allow some skew.
  EXPECT_LE(max_chains, 12u);
  EXPECT_GE(max_chains, 3u);
  // Not a service: falls through every level and is left alone.
  EXPECT_EQ(From("10.0.5.5", "172.30.255.254", 80), (Summary{{"ACCEPT", 1}}));
  // Identical input, identical bytes.
  EXPECT_EQ(IptablesRenderer(o).Render(state, IpFamily::kIPv4, {}),
            IptablesRenderer(o).Render(state, IpFamily::kIPv4, {}));
}

TEST(RenderBenchmark, TenThousandServices) {
  StateBuilderForTest b("node-a");
  for (int i = 0; i < 10000; ++i) {
    const std::string ip = "172.30." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    b.Add(Svc("ns", "svc" + std::to_string(i), "http", Protocol::kTCP, 80, ip),
          {Ep("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 8080),
           Ep("10.2." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 8080)});
  }
  const DesiredState state = b.Build();
  for (DispatchMode mode : {DispatchMode::kLinear, DispatchMode::kPrefixTree}) {
    IptablesOptions o = Options();
    o.dispatch = mode;
    const auto start = std::chrono::steady_clock::now();
    const std::string text = IptablesRenderer(o).Render(state, IpFamily::kIPv4, {});
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    const size_t rules = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    std::cout << (mode == DispatchMode::kLinear ? "linear" : "prefix-tree") << ": " << ms << " ms, "
              << rules << " lines, " << text.size() << " bytes\n";
    // Both endpoint chains of every service are declared (a count, not a time).
    size_t seps = 0;
    for (size_t at = text.find("\n:KUBE-SEP-"); at != std::string::npos;
         at = text.find("\n:KUBE-SEP-", at + 1)) {
      ++seps;
    }
    EXPECT_EQ(seps, 20000u);
  }
}

}  // namespace
}  // namespace kpx
