// Pure parts of the userspace mode: which frontends a state needs, which endpoints each uses,
// and the portal rules (golden restore text).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proxier/userspace/frontend_spec.h"
#include "proxier/userspace/portal_rules.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Net;

using testing::Ep;
using testing::Ip;
using testing::LocalEp;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: services 10.96.0.0/16 and fd00:96::/112; external 192.0.2.0/24; pods 10.244.x.
// Node "node-a" runs 10.244.1.x; other nodes 10.244.2.x.
constexpr char kWebIp[] = "10.96.0.10";
constexpr char kDnsIp[] = "10.96.0.53";

std::vector<BoundFrontend> Bind(const FrontendPlan& plan) {
  std::vector<BoundFrontend> out;
  uint16_t port = 40000;
  for (const auto& [key, spec] : plan.frontends) out.push_back({&spec, port++});
  return out;
}

TEST(PlanFrontends, ClusterIpOnlyHasOneFrontendWithClusterSet) {
  auto state = StateBuilderForTest()
                   .Add(Svc("demo", "web", "http", Protocol::kTCP, 80, kWebIp),
                        {LocalEp("10.244.1.2", 8080), Ep("10.244.2.2", 8080)})
                   .Build();
  const FrontendPlan plan = PlanFrontends(state, {IpFamily::kIPv4});
  ASSERT_EQ(plan.frontends.size(), 1u);
  const FrontendSpec& spec = plan.frontends.begin()->second;
  EXPECT_EQ(spec.key.role, FrontendRole::kInternal);
  ASSERT_EQ(spec.BackendsFor(IpFamily::kIPv4).size(), 2u);
  EXPECT_EQ(spec.BackendsFor(IpFamily::kIPv4)[0].ToString(), "10.244.1.2:8080");
  ASSERT_EQ(spec.portals.size(), 1u);
  EXPECT_TRUE(spec.portals[0].container);
  EXPECT_TRUE(spec.portals[0].host);
}

TEST(PlanFrontends, InternalPolicyLocalUsesLocalEndpoints) {
  auto state = StateBuilderForTest()
                   .Add(Svc("demo", "web", "", Protocol::kTCP, 80, kWebIp,
                            [](ServicePortInfo& s) { s.internal_policy = TrafficPolicy::kLocal; }),
                        {LocalEp("10.244.1.2", 8080), Ep("10.244.2.2", 8080)})
                   .Build();
  const FrontendPlan plan = PlanFrontends(state, {IpFamily::kIPv4});
  ASSERT_EQ(plan.frontends.size(), 1u);
  const auto& backends = plan.frontends.begin()->second.BackendsFor(IpFamily::kIPv4);
  ASSERT_EQ(backends.size(), 1u);
  EXPECT_EQ(backends[0].ToString(), "10.244.1.2:8080");
}

TEST(PlanFrontends, ExternalPolicyLocalGetsItsOwnFrontend) {
  auto state = StateBuilderForTest()
                   .Add(Svc("demo", "web", "http", Protocol::kTCP, 80, kWebIp,
                            [](ServicePortInfo& s) {
                              s.node_port = 30080;
                              s.external_policy = TrafficPolicy::kLocal;
                            }),
                        {LocalEp("10.244.1.2", 8080), Ep("10.244.2.2", 8080)})
                   .Build();
  const FrontendPlan plan = PlanFrontends(state, {IpFamily::kIPv4});
  ASSERT_EQ(plan.frontends.size(), 2u);
  const FrontendSpec& internal = plan.frontends.begin()->second;
  const FrontendSpec& external = std::next(plan.frontends.begin())->second;
  EXPECT_EQ(internal.BackendsFor(IpFamily::kIPv4).size(), 2u);
  ASSERT_EQ(external.BackendsFor(IpFamily::kIPv4).size(), 1u);
  EXPECT_EQ(external.BackendsFor(IpFamily::kIPv4)[0].ToString(), "10.244.1.2:8080");
  // From other hosts the node port honours Local; from the node itself it is short-circuited to
  // every endpoint, through the internal frontend.
  ASSERT_EQ(external.portals.size(), 1u);
  EXPECT_TRUE(external.portals[0].container);
  EXPECT_FALSE(external.portals[0].host);
  ASSERT_EQ(internal.portals.size(), 2u);
  EXPECT_EQ(internal.portals[1].kind, "node port");
  EXPECT_FALSE(internal.portals[1].container);
  EXPECT_TRUE(internal.portals[1].host);
}

TEST(PlanFrontends, SctpIsSkippedAndFamiliesFiltered) {
  auto state = StateBuilderForTest()
                   .Add(Svc("demo", "sig", "", Protocol::kSCTP, 3868, "10.96.0.20"),
                        {Ep("10.244.2.9", 3868)})
                   .Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10,fd00:96::10"),
                        {Ep("10.244.2.2", 8080), Ep("fd00:244::2", 8080)})
                   .Build();
  const FrontendPlan v4 = PlanFrontends(state, {IpFamily::kIPv4});
  ASSERT_EQ(v4.skipped_sctp.size(), 1u);
  EXPECT_EQ(v4.skipped_sctp[0].name, "sig");
  ASSERT_EQ(v4.frontends.size(), 1u);
  EXPECT_EQ(v4.frontends.begin()->second.portals.size(), 1u);
  EXPECT_TRUE(v4.frontends.begin()->second.BackendsFor(IpFamily::kIPv6).empty());
  const FrontendPlan both = PlanFrontends(state, {IpFamily::kIPv4, IpFamily::kIPv6});
  EXPECT_EQ(both.frontends.begin()->second.portals.size(), 2u);
  EXPECT_EQ(both.frontends.begin()->second.BackendsFor(IpFamily::kIPv6).size(), 1u);
}

TEST(PortalRulesGolden, EveryKindOfPortal) {
  auto state =
      StateBuilderForTest()
          .Add(Svc("demo", "dns", "dns", Protocol::kUDP, 53, kDnsIp), {Ep("10.244.2.53", 5353)})
          .Add(
              Svc("demo", "web", "http", Protocol::kTCP, 80, kWebIp,
                  [](ServicePortInfo& s) {
                    s.node_port = 30080;
                    s.external_ips = {Ip("192.0.2.10")};
                    s.load_balancer_ips = {Ip("192.0.2.20")};
                    s.load_balancer_source_ranges = {Net("198.51.100.0/24"), Net("203.0.113.0/24")};
                    s.external_policy = TrafficPolicy::kLocal;
                  }),
              {LocalEp("10.244.1.2", 8080), Ep("10.244.2.2", 8080)})
          .Add(Svc("demo", "api", "", Protocol::kTCP, 443, "10.96.0.11",
                   [](ServicePortInfo& s) { s.node_port = 30443; }),
               {Ep("10.244.2.3", 8443)})
          .Build();
  const FrontendPlan plan = PlanFrontends(state, {IpFamily::kIPv4});
  ASSERT_EQ(plan.frontends.size(), 4u);
  const std::string text = RenderPortalRules(IpFamily::kIPv4, Bind(plan));
  EXPECT_EQ(text, R"(*nat
:KPX-PORTALS-CONTAINER - [0:0]
:KPX-PORTALS-HOST - [0:0]
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/api cluster IP" -d 10.96.0.11/32 -p tcp -m tcp --dport 443 -j REDIRECT --to-ports 40000
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/api node port" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30443 -j REDIRECT --to-ports 40000
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/dns:dns cluster IP" -d 10.96.0.53/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 40001
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/web:http cluster IP" -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40002
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/web:http (external) node port" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j REDIRECT --to-ports 40003
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/web:http (external) external IP" -d 192.0.2.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40003
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/web:http (external) load balancer IP" -s 198.51.100.0/24 -d 192.0.2.20/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40003
-A KPX-PORTALS-CONTAINER -m comment --comment "demo/web:http (external) load balancer IP" -s 203.0.113.0/24 -d 192.0.2.20/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40003
-A KPX-PORTALS-HOST -m comment --comment "demo/api cluster IP" -d 10.96.0.11/32 -p tcp -m tcp --dport 443 -j REDIRECT --to-ports 40000
-A KPX-PORTALS-HOST -m comment --comment "demo/api node port" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30443 -j REDIRECT --to-ports 40000
-A KPX-PORTALS-HOST -m comment --comment "demo/dns:dns cluster IP" -d 10.96.0.53/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 40001
-A KPX-PORTALS-HOST -m comment --comment "demo/web:http cluster IP" -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40002
-A KPX-PORTALS-HOST -m comment --comment "demo/web:http node port" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j REDIRECT --to-ports 40002
-A KPX-PORTALS-HOST -m comment --comment "demo/web:http external IP" -d 192.0.2.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40002
-A KPX-PORTALS-HOST -m comment --comment "demo/web:http load balancer IP" -d 192.0.2.20/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40002
COMMIT
*filter
:KPX-PORTALS-FIREWALL - [0:0]
-A KPX-PORTALS-FIREWALL -m comment --comment "demo/web:http (external) load balancer IP outside loadBalancerSourceRanges" -d 192.0.2.20/32 -p tcp -m tcp --dport 80 -j DROP
COMMIT
)");
  // Deterministic: the same input renders the same bytes.
  EXPECT_EQ(RenderPortalRules(IpFamily::kIPv4, Bind(PlanFrontends(state, {IpFamily::kIPv4}))),
            text);
}

TEST(PortalRulesGolden, Ipv6AndEmpty) {
  auto state =
      StateBuilderForTest()
          .Add(Svc("demo", "web", "", Protocol::kTCP, 80, "fd00:96::10"), {Ep("fd00:244::2", 8080)})
          .Build();
  const FrontendPlan plan = PlanFrontends(state, {IpFamily::kIPv4, IpFamily::kIPv6});
  EXPECT_EQ(RenderPortalRules(IpFamily::kIPv6, Bind(plan)),
            "*nat\n:KPX-PORTALS-CONTAINER - [0:0]\n:KPX-PORTALS-HOST - [0:0]\n"
            "-A KPX-PORTALS-CONTAINER -m comment --comment \"demo/web cluster IP\" -d "
            "fd00:96::10/128 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40000\n"
            "-A KPX-PORTALS-HOST -m comment --comment \"demo/web cluster IP\" -d fd00:96::10/128 "
            "-p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40000\nCOMMIT\n"
            "*filter\n:KPX-PORTALS-FIREWALL - [0:0]\nCOMMIT\n");
  EXPECT_EQ(RenderPortalRules(IpFamily::kIPv4, Bind(plan)),
            "*nat\n:KPX-PORTALS-CONTAINER - [0:0]\n:KPX-PORTALS-HOST - [0:0]\nCOMMIT\n"
            "*filter\n:KPX-PORTALS-FIREWALL - [0:0]\nCOMMIT\n");
}

TEST(PortalRules, JumpsAreFromPreroutingOutputAndForward) {
  const auto jumps = PortalJumpRules();
  ASSERT_EQ(jumps.size(), 3u);
  EXPECT_EQ(jumps[2].table, "filter");
  EXPECT_EQ(jumps[2].chain, "FORWARD");
  EXPECT_EQ(jumps[2].target, "KPX-PORTALS-FIREWALL");
  EXPECT_EQ(jumps[0].chain, "PREROUTING");
  EXPECT_EQ(jumps[0].target, "KPX-PORTALS-CONTAINER");
  EXPECT_EQ(jumps[1].chain, "OUTPUT");
  EXPECT_EQ(jumps[1].target, "KPX-PORTALS-HOST");
  EXPECT_EQ(jumps[0].table, "nat");
}

}  // namespace
}  // namespace kpx

namespace kpx {
namespace {

// --nodeport-addresses in the userspace mode: a NodePort portal per selected address instead of
// "addrtype LOCAL"; an empty selection leaves the NodePort without portals.
TEST(PortalRules, NodePortAddressesGiveOnePortalPerAddress) {
  auto state = StateBuilderForTest()
                   .Add(Svc("demo", "api", "", Protocol::kTCP, 443, "10.96.0.11",
                            [](ServicePortInfo& s) { s.node_port = 30443; }),
                        {Ep("10.244.2.3", 8443)})
                   .Build();
  const FrontendPlan plan = PlanFrontends(state, {IpFamily::kIPv4});
  const std::string text =
      RenderPortalRules(IpFamily::kIPv4, Bind(plan), std::vector<IpAddress>{Ip("192.168.0.10")});
  EXPECT_EQ(text.find("addrtype"), std::string::npos) << text;
  EXPECT_NE(text.find("-A KPX-PORTALS-CONTAINER -m comment --comment \"demo/api node port\" -d "
                      "192.168.0.10/32 -p tcp -m tcp --dport 30443 -j REDIRECT"),
            std::string::npos)
      << text;
  const std::string none = RenderPortalRules(IpFamily::kIPv4, Bind(plan), std::vector<IpAddress>{});
  EXPECT_EQ(none.find("node port"), std::string::npos) << none;
  EXPECT_NE(none.find("demo/api cluster IP"), std::string::npos);
}

}  // namespace
}  // namespace kpx

namespace kpx {
namespace {

// --detect-local-mode in the userspace mode: pod traffic to an externalTrafficPolicy Local
// service's external destinations goes to the internal frontend (kube-proxy's short circuit),
// except where loadBalancerSourceRanges decide first.
TEST(PortalRules, PodTrafficToExternalDestinationsGoesToTheInternalFrontend) {
  auto state = StateBuilderForTest()
                   .Add(Svc("demo", "web", "http", Protocol::kTCP, 80, kWebIp,
                            [](ServicePortInfo& s) {
                              s.node_port = 30080;
                              s.external_ips = {Ip("192.0.2.10")};
                              s.load_balancer_ips = {Ip("192.0.2.20")};
                              s.load_balancer_source_ranges = {*Cidr::Parse("198.51.100.0/24")};
                              s.external_policy = TrafficPolicy::kLocal;
                            }),
                        {LocalEp("10.244.1.2", 8080), Ep("10.244.2.2", 8080)})
                   .Build();
  const FrontendPlan plan = PlanFrontends(state, {IpFamily::kIPv4});
  const auto pods = LocalTrafficDetector::For(LocalDetectMode::kClusterCidr, IpFamily::kIPv4,
                                              {*Cidr::Parse("10.244.0.0/16")}, {}, "");
  const std::string text = RenderPortalRules(IpFamily::kIPv4, Bind(plan), std::nullopt, pods);
  // Bind() numbers listeners from 40000 in key order: internal 40000, external 40001.
  const std::string ext_ip =
      "-A KPX-PORTALS-CONTAINER -m comment --comment \"demo/web:http pod traffic for external IP\" "
      "-s 10.244.0.0/16 -d 192.0.2.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40000\n";
  const std::string ext_ip_portal =
      "-A KPX-PORTALS-CONTAINER -m comment --comment \"demo/web:http (external) external IP\" -d "
      "192.0.2.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40001\n";
  ASSERT_NE(text.find(ext_ip), std::string::npos) << text;
  EXPECT_LT(text.find(ext_ip), text.find(ext_ip_portal));  // before the external portal
  EXPECT_NE(text.find("pod traffic for node port\" -s 10.244.0.0/16 -m addrtype --dst-type LOCAL"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("pod traffic for load balancer IP"), std::string::npos) << text;
  // No detector: no short circuit.
  EXPECT_EQ(RenderPortalRules(IpFamily::kIPv4, Bind(plan)).find("pod traffic"), std::string::npos);
}

// Source ranges only in the other family: nobody from other hosts reaches the load-balancer IP
// of this family (README "Fail-closed source ranges"; kube-proxy would leave it open). The node
// itself still does, as through kube-proxy's firewall chain.
TEST(PortalRules, SourceRangesOnlyInTheOtherFamilyLetNobodyIn) {
  auto state = StateBuilderForTest()
                   .Add(Svc("demo", "web", "http", Protocol::kTCP, 80, kWebIp,
                            [](ServicePortInfo& s) {
                              s.load_balancer_ips = {Ip("192.0.2.20")};
                              s.load_balancer_source_ranges = {*Cidr::Parse("2001:db8::/64")};
                            }),
                        {Ep("10.244.2.2", 8080)})
                   .Build();
  const std::string text =
      RenderPortalRules(IpFamily::kIPv4, Bind(PlanFrontends(state, {IpFamily::kIPv4})));
  EXPECT_EQ(text.find("-A KPX-PORTALS-CONTAINER -m comment --comment \"demo/web:http load "
                      "balancer IP\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("-A KPX-PORTALS-HOST -m comment --comment \"demo/web:http load balancer "
                      "IP\" -d 192.0.2.20/32"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("outside loadBalancerSourceRanges\" -d 192.0.2.20/32 -p tcp -m tcp "
                      "--dport 80 -j DROP"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace kpx
