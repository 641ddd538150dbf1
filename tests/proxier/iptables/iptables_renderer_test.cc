#include "proxier/iptables/iptables_renderer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "proxier/iptables/chain_names.h"
#include "proxier/netfilter/restore_text.h"
#include "proxier/netfilter/rule_spec.h"
#include "tests/support/golden.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::ExpandGolden;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: node 192.168.0.2 / fd00::2, pods 10.0.0.0/8 / fd00:10::/64, services 172.30.0.0/16 /
// fd00:172:30::/112, external IPs 192.168.99.0/24, load balancers 1.2.3.0/24.

IptablesOptions BaseOptions() {
  IptablesOptions o;
  o.localhost_nodeports = true;  // kube-proxy's default, for its rules
  o.cluster_cidrs = {Net("10.0.0.0/8"), Net("fd00:10::/64")};
  return o;
}

StateBuilderForTest Node() {
  StateBuilderForTest b("node-a");
  b.Node([](NodeState& n) { n.addresses = {Ip("192.168.0.2"), Ip("fd00::2")}; });
  return b;
}

std::string Render(const DesiredState& s, IptablesOptions o = BaseOptions(),
                   IpFamily f = IpFamily::kIPv4) {
  return IptablesRenderer(o).Render(s, f, {});
}

// The lines every render shares, held once: the golden cases below state only their own lines
// (ExpandGolden merges them in and the case still compares the whole text). IPv6 has no localnet
// firewall; `nodeports_match` is how KUBE-SERVICES' last rule selects local destinations.
std::string Skeleton(IpFamily family = IpFamily::kIPv4,
                     const std::string& nodeports_match = "-m addrtype --dst-type LOCAL") {
  const bool v4 = family == IpFamily::kIPv4;
  std::string out = R"(*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
)";
  if (v4) out += ":KUBE-FIREWALL - [0:0]\n";
  out += R"(-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
)";
  if (v4) {
    out +=
        R"(-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
)";
  }
  out += R"(COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" )" +
         nodeports_match + R"( -j KUBE-NODEPORTS
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
COMMIT
)";
  return out;
}

// The whole text a golden case expects: its own lines merged into the skeleton.
std::string Golden(std::string_view own, const std::string& skeleton = Skeleton()) {
  return ExpandGolden(skeleton, own);
}

// Scenario builders shared by the golden tests below.
DesiredState ClusterIpState() {
  auto b = Node();
  b.Add(Svc("ns1", "svc1", "p80", Protocol::kTCP, 80, "172.30.0.41"),
        {Ep("10.180.0.1", 80), Ep("10.180.0.2", 80)});
  return b.Build();
}

DesiredState NodePortState() {
  auto b = Node();
  b.Add(Svc("ns2", "svc2", "p80", Protocol::kTCP, 80, "172.30.0.42",
            [](ServicePortInfo& s) {
              s.node_port = 3001;
              s.external_ips = {Ip("192.168.99.11")};
            }),
        {Ep("10.180.0.3", 8080)});
  return b.Build();
}

DesiredState EtpLocalState(bool with_local_endpoint) {
  auto b = Node();
  std::vector<EndpointInfo> eps = {Ep("10.180.2.1", 80)};
  if (with_local_endpoint) eps.push_back(LocalEp("10.180.0.4", 80));
  b.Add(Svc("ns3", "svc3", "", Protocol::kTCP, 80, "172.30.0.43",
            [](ServicePortInfo& s) {
              s.node_port = 3003;
              s.load_balancer_ips = {Ip("1.2.3.4")};
              s.external_policy = TrafficPolicy::kLocal;
              s.health_check_node_port = 30000;
            }),
        eps);
  return b.Build();
}

DesiredState ItpLocalState(bool with_local_endpoint) {
  auto b = Node();
  std::vector<EndpointInfo> eps = {Ep("10.180.2.1", 53)};
  if (with_local_endpoint) eps.push_back(LocalEp("10.180.0.5", 53));
  b.Add(Svc("ns4", "svc4", "dns", Protocol::kUDP, 53, "172.30.0.44",
            [](ServicePortInfo& s) { s.internal_policy = TrafficPolicy::kLocal; }),
        eps);
  return b.Build();
}

DesiredState LoadBalancerState() {
  auto b = Node();
  b.Add(Svc("ns5", "svc5", "https", Protocol::kTCP, 443, "172.30.0.45",
            [](ServicePortInfo& s) {
              s.node_port = 3005;
              s.load_balancer_ips = {Ip("1.2.3.5")};
              s.load_balancer_source_ranges = {Net("203.0.113.0/25"), Net("192.168.0.0/24")};
            }),
        {Ep("10.180.0.6", 8443)});
  return b.Build();
}

DesiredState AffinityState() {
  auto b = Node();
  b.Add(Svc("ns6", "svc6", "p80", Protocol::kTCP, 80, "172.30.0.46",
            [](ServicePortInfo& s) {
              s.session_affinity_client_ip = true;
              s.session_affinity_timeout_seconds = 600;
            }),
        {Ep("10.180.0.7", 80), Ep("10.180.0.8", 80), Ep("10.180.0.9", 80)});
  return b.Build();
}

DesiredState NoEndpointsState() {
  auto b = Node();
  b.Add(Svc("ns7", "svc7", "p80", Protocol::kTCP, 80, "172.30.0.47",
            [](ServicePortInfo& s) {
              s.node_port = 3007;
              s.external_ips = {Ip("192.168.99.17")};
              s.load_balancer_ips = {Ip("1.2.3.7")};
            }),
        {Ep("10.180.0.10", 80, [](EndpointInfo& e) { e.ready = e.serving = false; })});
  return b.Build();
}

DesiredState TerminatingState() {
  auto b = Node();
  auto terminating = [](EndpointInfo& e) {
    e.ready = false;
    e.serving = true;
    e.terminating = true;
  };
  b.Add(Svc("ns8", "svc8", "p80", Protocol::kTCP, 80, "172.30.0.48"),
        {Ep("10.180.0.11", 80, terminating), Ep("10.180.0.12", 80, [](EndpointInfo& e) {
           e.ready = e.serving = false;
           e.terminating = true;
         })});
  return b.Build();
}

DesiredState DualStackState() {
  auto b = Node();
  b.Add(Svc("ns9", "svc9", "p80", Protocol::kTCP, 80, "172.30.0.49,fd00:172:30::49",
            [](ServicePortInfo& s) {
              s.node_port = 3009;
              s.external_ips = {Ip("192.168.99.19"), Ip("fd00:99::19")};
            }),
        {Ep("10.180.0.13", 80), Ep("fd00:10::13", 80)});
  b.Add(Svc("ns9", "v4only", "", Protocol::kTCP, 81, "172.30.0.50"), {Ep("10.180.0.14", 81)});
  return b.Build();
}

DesiredState ProtocolsState() {
  auto b = Node();
  b.Add(Svc("ns10", "svc10", "dns", Protocol::kUDP, 53, "172.30.0.51"), {Ep("10.180.0.15", 5353)});
  b.Add(Svc("ns10", "svc10", "sctp", Protocol::kSCTP, 3868, "172.30.0.51"),
        {Ep("10.180.0.15", 3868)});
  return b.Build();
}

IptablesOptions MasqueradeAllOptions() {
  IptablesOptions o = BaseOptions();
  o.masquerade_all = true;
  return o;
}

IptablesOptions NodePortAddressOptions() {
  IptablesOptions o = BaseOptions();
  o.node_port_addresses = {Net("192.168.0.0/24")};
  return o;
}

// The skeleton is exactly what a node without services renders, in both families.
TEST(IptablesRendererGolden, EmptyStateIsTheSkeleton) {
  EXPECT_EQ(Render(Node().Build()), Skeleton());
  EXPECT_EQ(Render(Node().Build(), BaseOptions(), IpFamily::kIPv6),
            Skeleton(IpFamily::kIPv6, "-m addrtype --dst-type LOCAL ! -d ::1/128"));
}

TEST(IptablesRendererGolden, ClusterIp) {
  EXPECT_EQ(Render(ClusterIpState()), Golden(R"golden(*nat
:KUBE-SEP-LXVODXWDISEETFEF - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j KUBE-SEP-LXVODXWDISEETFEF
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
)golden"));
}

TEST(IptablesRendererGolden, NodePort) {
  EXPECT_EQ(Render(NodePortState()), Golden(R"golden(*nat
:KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-SEP-PQDFQR6RPJCQPJPH - [0:0]
:KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade traffic for ns2/svc2:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.3:8080" -j KUBE-SEP-PQDFQR6RPJCQPJPH
-A KUBE-SEP-PQDFQR6RPJCQPJPH -m comment --comment ns2/svc2:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-PQDFQR6RPJCQPJPH -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:8080
)golden"));
}

TEST(IptablesRendererGolden, EtpLocal) {
  EXPECT_EQ(Render(EtpLocalState(true)), Golden(R"golden(*filter
-A KUBE-NODEPORTS -m comment --comment "ns3/svc3 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
*nat
:KUBE-EXT-63AVES5QA6FLPQYD - [0:0]
:KUBE-SEP-GOSNJAITF545BLMD - [0:0]
:KUBE-SEP-V6MXYPNAEUUKCGSL - [0:0]
:KUBE-SVC-63AVES5QA6FLPQYD - [0:0]
:KUBE-SVL-63AVES5QA6FLPQYD - [0:0]
-A KUBE-SERVICES -m comment --comment "ns3/svc3 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-63AVES5QA6FLPQYD
-A KUBE-SERVICES -m comment --comment "ns3/svc3 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-63AVES5QA6FLPQYD
-A KUBE-NODEPORTS -m comment --comment ns3/svc3 -m tcp -p tcp --dport 3003 -j KUBE-EXT-63AVES5QA6FLPQYD
-A KUBE-EXT-63AVES5QA6FLPQYD -m comment --comment "pod traffic for ns3/svc3 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-63AVES5QA6FLPQYD
-A KUBE-EXT-63AVES5QA6FLPQYD -m comment --comment "masquerade LOCAL traffic for ns3/svc3 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-63AVES5QA6FLPQYD -m comment --comment "route LOCAL traffic for ns3/svc3 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-63AVES5QA6FLPQYD
-A KUBE-EXT-63AVES5QA6FLPQYD -j KUBE-SVL-63AVES5QA6FLPQYD
-A KUBE-SVC-63AVES5QA6FLPQYD -m comment --comment "ns3/svc3 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-63AVES5QA6FLPQYD -m comment --comment "ns3/svc3 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-GOSNJAITF545BLMD
-A KUBE-SVC-63AVES5QA6FLPQYD -m comment --comment "ns3/svc3 -> 10.180.2.1:80" -j KUBE-SEP-V6MXYPNAEUUKCGSL
-A KUBE-SVL-63AVES5QA6FLPQYD -m comment --comment "ns3/svc3 -> 10.180.0.4:80" -j KUBE-SEP-GOSNJAITF545BLMD
-A KUBE-SEP-GOSNJAITF545BLMD -m comment --comment ns3/svc3 -s 10.180.0.4 -j KUBE-MARK-MASQ
-A KUBE-SEP-GOSNJAITF545BLMD -m comment --comment ns3/svc3 -m tcp -p tcp -j DNAT --to-destination 10.180.0.4:80
-A KUBE-SEP-V6MXYPNAEUUKCGSL -m comment --comment ns3/svc3 -s 10.180.2.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-V6MXYPNAEUUKCGSL -m comment --comment ns3/svc3 -m tcp -p tcp -j DNAT --to-destination 10.180.2.1:80
)golden"));
}

TEST(IptablesRendererGolden, EtpLocalNoLocal) {
  EXPECT_EQ(Render(EtpLocalState(false)), Golden(R"golden(*filter
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns3/svc3 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns3/svc3 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3003 -j DROP
-A KUBE-NODEPORTS -m comment --comment "ns3/svc3 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
*nat
:KUBE-EXT-63AVES5QA6FLPQYD - [0:0]
:KUBE-SEP-V6MXYPNAEUUKCGSL - [0:0]
:KUBE-SVC-63AVES5QA6FLPQYD - [0:0]
-A KUBE-SERVICES -m comment --comment "ns3/svc3 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-63AVES5QA6FLPQYD
-A KUBE-SERVICES -m comment --comment "ns3/svc3 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j KUBE-EXT-63AVES5QA6FLPQYD
-A KUBE-NODEPORTS -m comment --comment ns3/svc3 -m tcp -p tcp --dport 3003 -j KUBE-EXT-63AVES5QA6FLPQYD
-A KUBE-EXT-63AVES5QA6FLPQYD -m comment --comment "pod traffic for ns3/svc3 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-63AVES5QA6FLPQYD
-A KUBE-EXT-63AVES5QA6FLPQYD -m comment --comment "masquerade LOCAL traffic for ns3/svc3 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-EXT-63AVES5QA6FLPQYD -m comment --comment "route LOCAL traffic for ns3/svc3 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-63AVES5QA6FLPQYD
-A KUBE-SVC-63AVES5QA6FLPQYD -m comment --comment "ns3/svc3 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-63AVES5QA6FLPQYD -m comment --comment "ns3/svc3 -> 10.180.2.1:80" -j KUBE-SEP-V6MXYPNAEUUKCGSL
-A KUBE-SEP-V6MXYPNAEUUKCGSL -m comment --comment ns3/svc3 -s 10.180.2.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-V6MXYPNAEUUKCGSL -m comment --comment ns3/svc3 -m tcp -p tcp -j DNAT --to-destination 10.180.2.1:80
)golden"));
}

TEST(IptablesRendererGolden, ItpLocal) {
  EXPECT_EQ(Render(ItpLocalState(true)), Golden(R"golden(*nat
:KUBE-SEP-PZDR6HOAYGRXZDBI - [0:0]
:KUBE-SVL-I43VHGRDJVLEMTKD - [0:0]
-A KUBE-SERVICES -m comment --comment "ns4/svc4:dns cluster IP" -m udp -p udp -d 172.30.0.44 --dport 53 -j KUBE-SVL-I43VHGRDJVLEMTKD
-A KUBE-SVL-I43VHGRDJVLEMTKD -m comment --comment "ns4/svc4:dns cluster IP" -m udp -p udp -d 172.30.0.44 --dport 53 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVL-I43VHGRDJVLEMTKD -m comment --comment "ns4/svc4:dns -> 10.180.0.5:53" -j KUBE-SEP-PZDR6HOAYGRXZDBI
-A KUBE-SEP-PZDR6HOAYGRXZDBI -m comment --comment ns4/svc4:dns -s 10.180.0.5 -j KUBE-MARK-MASQ
-A KUBE-SEP-PZDR6HOAYGRXZDBI -m comment --comment ns4/svc4:dns -m udp -p udp -j DNAT --to-destination 10.180.0.5:53
)golden"));
}

TEST(IptablesRendererGolden, ItpLocalNoLocal) {
  EXPECT_EQ(Render(ItpLocalState(false)), Golden(R"golden(*filter
-A KUBE-SERVICES -m comment --comment "ns4/svc4:dns has no local endpoints" -m udp -p udp -d 172.30.0.44 --dport 53 -j DROP
)golden"));
}

TEST(IptablesRendererGolden, LoadBalancer) {
  EXPECT_EQ(Render(LoadBalancerState()), Golden(R"golden(*filter
-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:https traffic not accepted by KUBE-FW-NEEBLIYGPZGQXGAS" -m tcp -p tcp -d 1.2.3.5 --dport 443 -j DROP
*nat
:KUBE-EXT-NEEBLIYGPZGQXGAS - [0:0]
:KUBE-FW-NEEBLIYGPZGQXGAS - [0:0]
:KUBE-SEP-ZJSJOBIVHTXYYPW3 - [0:0]
:KUBE-SVC-NEEBLIYGPZGQXGAS - [0:0]
-A KUBE-SERVICES -m comment --comment "ns5/svc5:https cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 443 -j KUBE-SVC-NEEBLIYGPZGQXGAS
-A KUBE-SERVICES -m comment --comment "ns5/svc5:https loadbalancer IP" -m tcp -p tcp -d 1.2.3.5 --dport 443 -j KUBE-FW-NEEBLIYGPZGQXGAS
-A KUBE-NODEPORTS -m comment --comment ns5/svc5:https -m tcp -p tcp --dport 3005 -j KUBE-EXT-NEEBLIYGPZGQXGAS
-A KUBE-EXT-NEEBLIYGPZGQXGAS -m comment --comment "masquerade traffic for ns5/svc5:https external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-NEEBLIYGPZGQXGAS -j KUBE-SVC-NEEBLIYGPZGQXGAS
-A KUBE-FW-NEEBLIYGPZGQXGAS -m comment --comment "ns5/svc5:https loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-NEEBLIYGPZGQXGAS
-A KUBE-FW-NEEBLIYGPZGQXGAS -m comment --comment "ns5/svc5:https loadbalancer IP" -s 192.168.0.0/24 -j KUBE-EXT-NEEBLIYGPZGQXGAS
-A KUBE-FW-NEEBLIYGPZGQXGAS -m comment --comment "ns5/svc5:https loadbalancer IP" -s 1.2.3.5 -j KUBE-EXT-NEEBLIYGPZGQXGAS
-A KUBE-FW-NEEBLIYGPZGQXGAS -m comment --comment "other traffic to ns5/svc5:https will be dropped by KUBE-PROXY-FIREWALL"
-A KUBE-SVC-NEEBLIYGPZGQXGAS -m comment --comment "ns5/svc5:https cluster IP" -m tcp -p tcp -d 172.30.0.45 --dport 443 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NEEBLIYGPZGQXGAS -m comment --comment "ns5/svc5:https -> 10.180.0.6:8443" -j KUBE-SEP-ZJSJOBIVHTXYYPW3
-A KUBE-SEP-ZJSJOBIVHTXYYPW3 -m comment --comment ns5/svc5:https -s 10.180.0.6 -j KUBE-MARK-MASQ
-A KUBE-SEP-ZJSJOBIVHTXYYPW3 -m comment --comment ns5/svc5:https -m tcp -p tcp -j DNAT --to-destination 10.180.0.6:8443
)golden"));
}

TEST(IptablesRendererGolden, Affinity) {
  EXPECT_EQ(Render(AffinityState()), Golden(R"golden(*nat
:KUBE-SEP-HOU2AJF3C3TGUR4W - [0:0]
:KUBE-SEP-LYG6GVEMV3CC6VJG - [0:0]
:KUBE-SEP-WASM2BGHDUARAP65 - [0:0]
:KUBE-SVC-NDY5GL2HU4YWCI7Q - [0:0]
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 cluster IP" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j KUBE-SVC-NDY5GL2HU4YWCI7Q
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 cluster IP" -m tcp -p tcp -d 172.30.0.46 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 -> 10.180.0.7:80" -m recent --name KUBE-SEP-WASM2BGHDUARAP65 --rcheck --seconds 600 --reap -j KUBE-SEP-WASM2BGHDUARAP65
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 -> 10.180.0.8:80" -m recent --name KUBE-SEP-LYG6GVEMV3CC6VJG --rcheck --seconds 600 --reap -j KUBE-SEP-LYG6GVEMV3CC6VJG
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 -> 10.180.0.9:80" -m recent --name KUBE-SEP-HOU2AJF3C3TGUR4W --rcheck --seconds 600 --reap -j KUBE-SEP-HOU2AJF3C3TGUR4W
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 -> 10.180.0.7:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-WASM2BGHDUARAP65
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 -> 10.180.0.8:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-LYG6GVEMV3CC6VJG
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 -> 10.180.0.9:80" -j KUBE-SEP-HOU2AJF3C3TGUR4W
-A KUBE-SEP-WASM2BGHDUARAP65 -m comment --comment ns6/svc6:p80 -s 10.180.0.7 -j KUBE-MARK-MASQ
-A KUBE-SEP-WASM2BGHDUARAP65 -m comment --comment ns6/svc6:p80 -m recent --name KUBE-SEP-WASM2BGHDUARAP65 --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.7:80
-A KUBE-SEP-LYG6GVEMV3CC6VJG -m comment --comment ns6/svc6:p80 -s 10.180.0.8 -j KUBE-MARK-MASQ
-A KUBE-SEP-LYG6GVEMV3CC6VJG -m comment --comment ns6/svc6:p80 -m recent --name KUBE-SEP-LYG6GVEMV3CC6VJG --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.8:80
-A KUBE-SEP-HOU2AJF3C3TGUR4W -m comment --comment ns6/svc6:p80 -s 10.180.0.9 -j KUBE-MARK-MASQ
-A KUBE-SEP-HOU2AJF3C3TGUR4W -m comment --comment ns6/svc6:p80 -m recent --name KUBE-SEP-HOU2AJF3C3TGUR4W --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.9:80
)golden"));
}

// kube-proxy's large-cluster mode: above largeClusterEndpointsThreshold endpoints the
// per-endpoint comments go (SVC/SVL load balancing and affinity rules, SEP rules); every other
// comment stays. The threshold is 3 here, and AffinityState has 3 endpoints: not large yet.
TEST(IptablesRendererGolden, LargeClusterDropsPerEndpointComments) {
  IptablesOptions o = BaseOptions();
  o.large_cluster_endpoints_threshold = 3;
  EXPECT_EQ(Render(AffinityState(), o), Render(AffinityState()));
  o.large_cluster_endpoints_threshold = 2;
  EXPECT_EQ(Render(AffinityState(), o), Golden(R"golden(*nat
:KUBE-SEP-HOU2AJF3C3TGUR4W - [0:0]
:KUBE-SEP-LYG6GVEMV3CC6VJG - [0:0]
:KUBE-SEP-WASM2BGHDUARAP65 - [0:0]
:KUBE-SVC-NDY5GL2HU4YWCI7Q - [0:0]
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 cluster IP" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j KUBE-SVC-NDY5GL2HU4YWCI7Q
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m comment --comment "ns6/svc6:p80 cluster IP" -m tcp -p tcp -d 172.30.0.46 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m recent --name KUBE-SEP-WASM2BGHDUARAP65 --rcheck --seconds 600 --reap -j KUBE-SEP-WASM2BGHDUARAP65
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m recent --name KUBE-SEP-LYG6GVEMV3CC6VJG --rcheck --seconds 600 --reap -j KUBE-SEP-LYG6GVEMV3CC6VJG
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m recent --name KUBE-SEP-HOU2AJF3C3TGUR4W --rcheck --seconds 600 --reap -j KUBE-SEP-HOU2AJF3C3TGUR4W
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-WASM2BGHDUARAP65
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-LYG6GVEMV3CC6VJG
-A KUBE-SVC-NDY5GL2HU4YWCI7Q -j KUBE-SEP-HOU2AJF3C3TGUR4W
-A KUBE-SEP-WASM2BGHDUARAP65 -s 10.180.0.7 -j KUBE-MARK-MASQ
-A KUBE-SEP-WASM2BGHDUARAP65 -m recent --name KUBE-SEP-WASM2BGHDUARAP65 --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.7:80
-A KUBE-SEP-LYG6GVEMV3CC6VJG -s 10.180.0.8 -j KUBE-MARK-MASQ
-A KUBE-SEP-LYG6GVEMV3CC6VJG -m recent --name KUBE-SEP-LYG6GVEMV3CC6VJG --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.8:80
-A KUBE-SEP-HOU2AJF3C3TGUR4W -s 10.180.0.9 -j KUBE-MARK-MASQ
-A KUBE-SEP-HOU2AJF3C3TGUR4W -m recent --name KUBE-SEP-HOU2AJF3C3TGUR4W --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.9:80
)golden"));
}

TEST(IptablesRenderer, LargeClusterThresholdIsKubeProxys) {
  const IptablesRenderer r(BaseOptions());
  EXPECT_FALSE(r.LargeCluster(1000));  // kube-proxy: totalEndpoints > 1000
  EXPECT_TRUE(r.LargeCluster(1001));
  IptablesOptions never = BaseOptions();
  never.large_cluster_endpoints_threshold = -1;
  EXPECT_FALSE(IptablesRenderer(never).LargeCluster(1000000));
}

TEST(IptablesRendererGolden, NoEndpoints) {
  EXPECT_EQ(Render(NoEndpointsState()), Golden(R"golden(*filter
-A KUBE-SERVICES -m comment --comment "ns7/svc7:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.47 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns7/svc7:p80 has no endpoints" -m tcp -p tcp -d 192.168.99.17 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns7/svc7:p80 has no endpoints" -m tcp -p tcp -d 1.2.3.7 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns7/svc7:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3007 -j REJECT
)golden"));
}

TEST(IptablesRendererGolden, Terminating) {
  EXPECT_EQ(Render(TerminatingState()), Golden(R"golden(*nat
:KUBE-SEP-LDYCFXR2QENDWAQV - [0:0]
:KUBE-SVC-C2DO364MY4EZZI3V - [0:0]
-A KUBE-SERVICES -m comment --comment "ns8/svc8:p80 cluster IP" -m tcp -p tcp -d 172.30.0.48 --dport 80 -j KUBE-SVC-C2DO364MY4EZZI3V
-A KUBE-SVC-C2DO364MY4EZZI3V -m comment --comment "ns8/svc8:p80 cluster IP" -m tcp -p tcp -d 172.30.0.48 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-C2DO364MY4EZZI3V -m comment --comment "ns8/svc8:p80 -> 10.180.0.11:80" -j KUBE-SEP-LDYCFXR2QENDWAQV
-A KUBE-SEP-LDYCFXR2QENDWAQV -m comment --comment ns8/svc8:p80 -s 10.180.0.11 -j KUBE-MARK-MASQ
-A KUBE-SEP-LDYCFXR2QENDWAQV -m comment --comment ns8/svc8:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.11:80
)golden"));
}

TEST(IptablesRendererGolden, DualStackV6) {
  EXPECT_EQ(Render(DualStackState(), BaseOptions(), IpFamily::kIPv6),
            Golden(R"golden(*nat
:KUBE-EXT-X3BTFNS6RD7OBUON - [0:0]
:KUBE-SEP-PFSPFCMLJ2A36JPI - [0:0]
:KUBE-SVC-X3BTFNS6RD7OBUON - [0:0]
-A KUBE-SERVICES -m comment --comment "ns9/svc9:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::49 --dport 80 -j KUBE-SVC-X3BTFNS6RD7OBUON
-A KUBE-SERVICES -m comment --comment "ns9/svc9:p80 external IP" -m tcp -p tcp -d fd00:99::19 --dport 80 -j KUBE-EXT-X3BTFNS6RD7OBUON
-A KUBE-NODEPORTS -m comment --comment ns9/svc9:p80 -m tcp -p tcp --dport 3009 -j KUBE-EXT-X3BTFNS6RD7OBUON
-A KUBE-EXT-X3BTFNS6RD7OBUON -m comment --comment "masquerade traffic for ns9/svc9:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-X3BTFNS6RD7OBUON -j KUBE-SVC-X3BTFNS6RD7OBUON
-A KUBE-SVC-X3BTFNS6RD7OBUON -m comment --comment "ns9/svc9:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::49 --dport 80 ! -s fd00:10::/64 -j KUBE-MARK-MASQ
-A KUBE-SVC-X3BTFNS6RD7OBUON -m comment --comment "ns9/svc9:p80 -> [fd00:10::13]:80" -j KUBE-SEP-PFSPFCMLJ2A36JPI
-A KUBE-SEP-PFSPFCMLJ2A36JPI -m comment --comment ns9/svc9:p80 -s fd00:10::13 -j KUBE-MARK-MASQ
-A KUBE-SEP-PFSPFCMLJ2A36JPI -m comment --comment ns9/svc9:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10::13]:80
)golden",
                   Skeleton(IpFamily::kIPv6, "-m addrtype --dst-type LOCAL ! -d ::1/128")));
}

TEST(IptablesRendererGolden, Protocols) {
  EXPECT_EQ(Render(ProtocolsState()), Golden(R"golden(*nat
:KUBE-SEP-FNJOJ7UDNNONDPYN - [0:0]
:KUBE-SEP-SEP2C5LRBHJ6WPBW - [0:0]
:KUBE-SVC-GUX5VTFFPRZQUEIK - [0:0]
:KUBE-SVC-MXJQCNCIREWGLXOA - [0:0]
-A KUBE-SERVICES -m comment --comment "ns10/svc10:dns cluster IP" -m udp -p udp -d 172.30.0.51 --dport 53 -j KUBE-SVC-GUX5VTFFPRZQUEIK
-A KUBE-SERVICES -m comment --comment "ns10/svc10:sctp cluster IP" -m sctp -p sctp -d 172.30.0.51 --dport 3868 -j KUBE-SVC-MXJQCNCIREWGLXOA
-A KUBE-SVC-GUX5VTFFPRZQUEIK -m comment --comment "ns10/svc10:dns cluster IP" -m udp -p udp -d 172.30.0.51 --dport 53 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GUX5VTFFPRZQUEIK -m comment --comment "ns10/svc10:dns -> 10.180.0.15:5353" -j KUBE-SEP-FNJOJ7UDNNONDPYN
-A KUBE-SEP-FNJOJ7UDNNONDPYN -m comment --comment ns10/svc10:dns -s 10.180.0.15 -j KUBE-MARK-MASQ
-A KUBE-SEP-FNJOJ7UDNNONDPYN -m comment --comment ns10/svc10:dns -m udp -p udp -j DNAT --to-destination 10.180.0.15:5353
-A KUBE-SVC-MXJQCNCIREWGLXOA -m comment --comment "ns10/svc10:sctp cluster IP" -m sctp -p sctp -d 172.30.0.51 --dport 3868 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-MXJQCNCIREWGLXOA -m comment --comment "ns10/svc10:sctp -> 10.180.0.15:3868" -j KUBE-SEP-SEP2C5LRBHJ6WPBW
-A KUBE-SEP-SEP2C5LRBHJ6WPBW -m comment --comment ns10/svc10:sctp -s 10.180.0.15 -j KUBE-MARK-MASQ
-A KUBE-SEP-SEP2C5LRBHJ6WPBW -m comment --comment ns10/svc10:sctp -m sctp -p sctp -j DNAT --to-destination 10.180.0.15:3868
)golden"));
}

TEST(IptablesRendererGolden, MasqueradeAll) {
  EXPECT_EQ(Render(ClusterIpState(), MasqueradeAllOptions()), Golden(R"golden(*nat
:KUBE-SEP-LXVODXWDISEETFEF - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j KUBE-SEP-LXVODXWDISEETFEF
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
)golden"));
}

TEST(IptablesRendererGolden, NodePortAddresses) {
  EXPECT_EQ(IptablesRenderer(NodePortAddressOptions())
                .Render(NodePortState(), IpFamily::kIPv4,
                        {Ip("192.168.0.2"), Ip("10.9.9.9"), Ip("127.0.0.1")}),
            Golden(R"golden(*nat
:KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
:KUBE-SEP-PQDFQR6RPJCQPJPH - [0:0]
:KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade traffic for ns2/svc2:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> 10.180.0.3:8080" -j KUBE-SEP-PQDFQR6RPJCQPJPH
-A KUBE-SEP-PQDFQR6RPJCQPJPH -m comment --comment ns2/svc2:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-PQDFQR6RPJCQPJPH -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:8080
)golden",
                   Skeleton(IpFamily::kIPv4, "-d 192.168.0.2")));
}

TEST(IptablesRenderer, IdenticalInputGivesIdenticalBytes) {
  const DesiredState a = DualStackState();
  const DesiredState b = DualStackState();
  for (IpFamily f : kIpFamilies)
    EXPECT_EQ(Render(a, BaseOptions(), f), Render(b, BaseOptions(), f));
}

TEST(IptablesRenderer, ChainNamesMatchKubeProxyAndFit) {
  // The names kube-proxy's own tests use for these service ports and endpoints.
  EXPECT_EQ(ServiceChain({"ns1", "svc1", "p80", Protocol::kTCP}), "KUBE-SVC-XPGD46QRK7WJZT7O");
  EndpointInfo ep = Ep("10.180.0.1", 80);
  EXPECT_EQ(EndpointChain({"ns1", "svc1", "p80", Protocol::kTCP}, ep), "KUBE-SEP-SXIVWICOYRO3J4NJ");
  const ServicePortName long_name{std::string(63, 'n'), std::string(63, 's'), std::string(15, 'p'),
                                  Protocol::kSCTP};
  for (const std::string& c :
       {ServiceChain(long_name), ServiceLocalChain(long_name), ExternalChain(long_name),
        FirewallChain(long_name), EndpointChain(long_name, ep)}) {
    EXPECT_LE(c.size(), 28u) << c;
  }
}

// A port with more chains than the renderer looks through one by one (it indexes them past
// that), rendered after and before smaller ports whose chain texts reuse the same buffers: each
// chain is declared once and holds exactly its own rules.
TEST(IptablesRenderer, ManyEndpointsAndPortsRenderedOneAfterAnother) {
  auto b = Node();
  b.Add(Svc("ns1", "small", "p80", Protocol::kTCP, 80, "172.30.0.41"), {Ep("10.180.0.1", 80)});
  std::vector<EndpointInfo> many;
  for (int i = 0; i < 50; ++i) many.push_back(Ep("10.181.0." + std::to_string(i + 1), 8080));
  b.Add(Svc("ns1", "large", "p80", Protocol::kTCP, 80, "172.30.0.42"), many);
  b.Add(Svc("ns1", "tiny", "p80", Protocol::kTCP, 80, "172.30.0.43"), {Ep("10.182.0.1", 80)});
  const std::string text = Render(b.Build());
  std::map<std::string, int> declared;
  std::map<std::string, std::vector<std::string>> rules;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(":KUBE-SEP-") || line.starts_with(":KUBE-SVC-")) {
      ++declared[line.substr(1, line.find(' ') - 1)];
    }
    if (line.starts_with("-A KUBE-SEP-") || line.starts_with("-A KUBE-SVC-")) {
      const size_t end = line.find(' ', 3);
      rules[line.substr(3, end - 3)].push_back(line);
    }
  }
  size_t seps = 0, svcs = 0;
  for (const auto& [chain, n] : declared) {
    EXPECT_EQ(n, 1) << chain;
    if (chain.starts_with("KUBE-SEP-")) {
      ++seps;
      ASSERT_EQ(rules[chain].size(), 2u) << chain;  // hairpin mark, DNAT
      EXPECT_NE(rules[chain][1].find("--to-destination"), std::string::npos) << chain;
    } else if (chain.starts_with("KUBE-SVC-")) {
      ++svcs;
    }
  }
  EXPECT_EQ(seps, 52u);
  EXPECT_EQ(svcs, 3u);
  size_t jumps = 0;
  for (const auto& [chain, lines] : rules) {
    if (!chain.starts_with("KUBE-SVC-")) continue;
    for (const auto& l : lines) jumps += l.find("-j KUBE-SEP-") != std::string::npos;
  }
  EXPECT_EQ(jumps, 52u);
}

TEST(IptablesRenderer, CommentsAreQuotedSafely) {
  EXPECT_EQ(RestoreText::Quote("ns/name:port"), "ns/name:port");
  EXPECT_EQ(RestoreText::Quote("a b"), "\"a b\"");
  EXPECT_EQ(RestoreText::Quote("say \"hi\"\\\n"), "\"say \\\"hi\\\"\\\\?\"");
  auto back = RestoreText::Split("-m comment --comment \"say \\\"hi\\\"\\\\?\" -j X");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value()[3], "say \"hi\"\\?");
}

TEST(IptablesRenderer, RenderedTextParses) {
  for (const DesiredState& s : {ClusterIpState(), EtpLocalState(true), LoadBalancerState(),
                                AffinityState(), NoEndpointsState(), DualStackState()}) {
    const std::string text = Render(s);
    auto tables = RestoreText::Parse(text);
    ASSERT_TRUE(tables.ok()) << tables.status().message();
    for (const auto& t : tables.value()) {
      for (const auto& c : t.commands) {
        auto spec = RuleSpecView::Parse(c.args);
        EXPECT_TRUE(spec.ok()) << spec.status().message() << " in line " << c.line;
      }
    }
  }
}

TEST(RuleSpec, ParsesNegationsMatchesAndTargets) {
  auto spec = RuleSpec::Parse(*RestoreText::Split(
      "-m comment --comment \"x y\" -m tcp -p tcp -d 172.30.0.1 --dport 80 ! -s 10.0.0.0/8 "
      "-m mark ! --mark 0x4000/0x4000 -j DNAT --to-destination 10.0.0.1:80"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->destination->value, "172.30.0.1");
  EXPECT_TRUE(spec->source->negated);
  ASSERT_NE(spec->FindMatch("tcp"), nullptr);
  EXPECT_EQ(spec->FindMatch("tcp")->Find("--dport")->value(), "80");
  EXPECT_TRUE(spec->FindMatch("mark")->Find("--mark")->negated);
  EXPECT_EQ(spec->target, "DNAT");
  EXPECT_EQ(spec->FindTargetOption("--to-destination")->value(), "10.0.0.1:80");
  EXPECT_FALSE(RuleSpec::Parse({"--dport", "80"}).ok());
  EXPECT_FALSE(RuleSpec::Parse({"!", "!", "-s", "1.2.3.4"}).ok());
}

}  // namespace
}  // namespace kpx

namespace kpx {
namespace {

// The KUBE-SERVICES -> KUBE-NODEPORTS jumps of one rendering.
std::vector<std::string> NodePortJumps(const IptablesOptions& o, IpFamily f,
                                       const std::vector<IpAddress>& host) {
  std::vector<std::string> out;
  std::istringstream in(IptablesRenderer(o).Render(NodePortState(), f, host));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-A KUBE-SERVICES", 0) == 0 &&
        line.find("-j KUBE-NODEPORTS") != std::string::npos) {
      const std::string note = "NOTE: this must be the last rule in this chain\" ";
      out.push_back(line.substr(line.find(note) + note.size()));
    }
  }
  return out;
}

// --nodeport-addresses=primary: only the Node object's InternalIP of the family, and only if
// an interface has it; the host's other addresses get no NodePorts.
TEST(IptablesRendererNodePortAddresses, PrimaryIsTheNodesInternalIpOnAnInterface) {
  IptablesOptions o = BaseOptions();
  o.node_port_primary = true;
  const std::vector<IpAddress> host = {Ip("127.0.0.1"), Ip("192.168.0.2"), Ip("10.9.9.9"),
                                       Ip("fd00::2"), Ip("fd00::9")};
  EXPECT_EQ(NodePortJumps(o, IpFamily::kIPv4, host),
            std::vector<std::string>{"-d 192.168.0.2 -j KUBE-NODEPORTS"});
  EXPECT_EQ(NodePortJumps(o, IpFamily::kIPv6, host),
            std::vector<std::string>{"-d fd00::2 -j KUBE-NODEPORTS"});
  EXPECT_TRUE(NodePortJumps(o, IpFamily::kIPv4, {Ip("10.9.9.9")}).empty());
  // An IPv4 CIDR list leaves IPv6 on every local address, as kube-proxy.
  o.node_port_primary = false;
  o.node_port_addresses = {Net("10.0.0.0/8")};
  EXPECT_EQ(NodePortJumps(o, IpFamily::kIPv4, host),
            std::vector<std::string>{"-d 10.9.9.9 -j KUBE-NODEPORTS"});
  EXPECT_EQ(
      NodePortJumps(o, IpFamily::kIPv6, host),
      std::vector<std::string>{"-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS"});
}

}  // namespace
}  // namespace kpx

namespace kpx {
namespace {

// kube-proxy's nfacct rules, when the counters exist: INVALID drops and localhost NodePorts
// (IPv4 only) are counted.
TEST(IptablesRendererNfacct, CountsInvalidDropsAndLocalhostNodePorts) {
  IptablesOptions o = BaseOptions();
  o.nfacct_ct_state_invalid = true;
  o.nfacct_localhost_nodeports = true;
  const std::string v4 = IptablesRenderer(o).Render(NodePortState(), IpFamily::kIPv4, {});
  EXPECT_NE(v4.find("-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name "
                    "ct_state_invalid_dropped_pkts -j DROP\n"),
            std::string::npos)
      << v4;
  EXPECT_NE(v4.find("-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d "
                    "127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts "
                    "-j KUBE-EXT-"),
            std::string::npos)
      << v4;
  const std::string v6 = IptablesRenderer(o).Render(NodePortState(), IpFamily::kIPv6, {});
  EXPECT_EQ(v6.find("localhost_nps_accepted_pkts"), std::string::npos);
  // Without the counters, kube-proxy's plain rules.
  EXPECT_EQ(IptablesRenderer(BaseOptions())
                .Render(NodePortState(), IpFamily::kIPv4, {})

                .find("nfacct"),
            std::string::npos);
}

}  // namespace
}  // namespace kpx
