#include "proxier/ipvs/ipvs_reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using ::testing::ElementsAreArray;
using testing::Ep;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: services in 10.96.0.0/16, pods in 10.244.0.0/16 (node-1 owns 10.244.1.0/24),
// node addresses 192.168.0.10 and 192.168.1.10, external/LB addresses in 203.0.113.0/24.
const std::vector<IpAddress> kNodeIps = {Ip("192.168.0.10"), Ip("192.168.1.10")};

IpvsService Svc(Protocol p, const std::string& ip, uint16_t port, const std::string& sched = "rr") {
  IpvsService s;
  s.key = {p, Ip(ip), port};
  s.scheduler = sched;
  s.flags = kIpvsFlagHashed;  // as the kernel reports it
  return s;
}

IpvsDestination Dest(const std::string& ip, uint16_t port, int weight = 1) {
  IpvsDestination d;
  d.key = {Ip(ip), port};
  d.weight = weight;
  return d;
}

void Have(ObservedIpvs& o, const IpvsService& s, const std::vector<IpvsDestination>& dests) {
  o.servers[s.key].service = s;
  for (const auto& d : dests) o.servers[s.key].dests.Put(d);
}

DesiredState WebState(const std::function<void(ServicePortInfo&)>& edit = nullptr) {
  return StateBuilderForTest()
      .Add(Svc("default", "web", "", Protocol::kTCP, 80, "10.96.0.10", edit),
           {LocalEp("10.244.1.5", 8080), Ep("10.244.2.5", 8080)})
      .Build();
}

// The kernel state WebState() leads to.
ObservedIpvs WebObserved() {
  ObservedIpvs o;
  Have(o, Svc(Protocol::kTCP, "10.96.0.10", 80),
       {Dest("10.244.1.5", 8080), Dest("10.244.2.5", 8080)});
  o.bound_addresses = {Ip("10.96.0.10")};
  return o;
}

struct Case {
  std::string name;
  std::function<DesiredState()> state;
  std::function<ObservedIpvs()> observed;
  std::function<void(IpvsOptions&)> options;
  std::vector<std::string> want;
};

class ReconcilerTest : public ::testing::TestWithParam<Case> {};

TEST_P(ReconcilerTest, Plans) {
  const Case& c = GetParam();
  IpvsOptions options;
  if (c.options) c.options(options);
  const std::set<IpAddress> node_ips(kNodeIps.begin(), kNodeIps.end());
  const DesiredIpvs desired = BuildDesiredIpvs(c.state(), options, kNodeIps);
  std::vector<std::string> got;
  for (const IpvsOp& op : PlanIpvs(desired, c.observed(), node_ips, options)) {
    got.push_back(op.ToString());
  }
  EXPECT_THAT(got, ElementsAreArray(c.want));
}

const Case kCases[] = {
    {"FreshClusterIp",
     [] { return WebState(); },
     [] { return ObservedIpvs(); },
     nullptr,
     {"add-service TCP/10.96.0.10:80 rr", "add-dest TCP/10.96.0.10:80 10.244.1.5:8080",
      "add-dest TCP/10.96.0.10:80 10.244.2.5:8080", "bind 10.96.0.10"}},
    {"SteadyStateIsEmpty", [] { return WebState(); }, WebObserved, nullptr, {}},
    {"RemovedEndpointIsRetiredNotDeleted",
     [] {
       return StateBuilderForTest()
           .Add(Svc("default", "web", "", Protocol::kTCP, 80, "10.96.0.10"),
                {Ep("10.244.2.5", 8080)})
           .Build();
     },
     WebObserved,
     nullptr,
     {"retire-dest TCP/10.96.0.10:80 10.244.1.5:8080"}},
    {"DrainingEndpointWantedAgainIsRestored",
     [] { return WebState(); },
     [] {
       ObservedIpvs o = WebObserved();
       IpvsDestinationList& dests = o.servers.begin()->second.dests;
       IpvsDestination d = *dests.begin();
       d.weight = 0;
       dests.Put(d);
       return o;
     },
     nullptr,
     {"update-dest TCP/10.96.0.10:80 10.244.1.5:8080 weight=1"}},
    {"AffinityTurnsOnPersistence",
     [] {
       return WebState([](ServicePortInfo& i) {
         i.session_affinity_client_ip = true;
         i.session_affinity_timeout_seconds = 600;
       });
     },
     WebObserved,
     nullptr,
     {"update-service TCP/10.96.0.10:80 rr persistent=600"}},
    {"SchedulerOptionChangesEveryService",
     [] { return WebState(); },
     WebObserved,
     [](IpvsOptions& o) { o.scheduler = "wlc"; },
     {"update-service TCP/10.96.0.10:80 wlc"}},
    {"RemovedServiceIsDeletedAndUnboundForeignKept",
     [] { return StateBuilderForTest().Build(); },
     [] {
       ObservedIpvs o = WebObserved();
       // Someone else's virtual servers: on an address kpx never bound, and on a node address
       // outside the NodePort range.
       Have(o, Svc(Protocol::kTCP, "172.16.0.1", 443), {Dest("172.16.0.2", 443)});
       Have(o, Svc(Protocol::kTCP, "192.168.0.10", 80), {});
       return o;
     },
     nullptr,
     {"delete-service TCP/10.96.0.10:80", "unbind 10.96.0.10"}},
    {"NodePortOnEveryNodeAddress",
     [] {
       return StateBuilderForTest()
           .Add(Svc("default", "np", "", Protocol::kUDP, 53, "10.96.0.20",
                    [](ServicePortInfo& i) { i.node_port = 30053; }),
                {Ep("10.244.2.7", 5353)})
           .Build();
     },
     [] { return ObservedIpvs(); },
     nullptr,
     {"add-service UDP/10.96.0.20:53 rr", "add-service UDP/192.168.0.10:30053 rr",
      "add-service UDP/192.168.1.10:30053 rr", "add-dest UDP/10.96.0.20:53 10.244.2.7:5353",
      "add-dest UDP/192.168.0.10:30053 10.244.2.7:5353",
      "add-dest UDP/192.168.1.10:30053 10.244.2.7:5353", "bind 10.96.0.20"}},
    {"StaleNodePortDeleted",
     [] { return WebState(); },
     [] {
       ObservedIpvs o = WebObserved();
       Have(o, Svc(Protocol::kTCP, "192.168.1.10", 30080), {Dest("10.244.1.5", 8080)});
       return o;
     },
     nullptr,
     {"delete-service TCP/192.168.1.10:30080"}},
    {"ExternalPolicyLocalUsesLocalEndpointsOutside",
     [] {
       return WebState([](ServicePortInfo& i) {
         i.node_port = 30080;
         i.external_policy = TrafficPolicy::kLocal;
       });
     },
     WebObserved,
     [](IpvsOptions& o) { o.node_port_addresses = {Net("192.168.0.0/24")}; },
     {"add-service TCP/192.168.0.10:30080 rr", "add-dest TCP/192.168.0.10:30080 10.244.1.5:8080"}},
    {"InternalPolicyLocalUsesLocalEndpointsInside",
     [] { return WebState([](ServicePortInfo& i) { i.internal_policy = TrafficPolicy::kLocal; }); },
     WebObserved,
     nullptr,
     {"retire-dest TCP/10.96.0.10:80 10.244.2.5:8080"}},
    {"ExternalAndLoadBalancerIpsAreBound",
     [] {
       return WebState([](ServicePortInfo& i) {
         i.external_ips = {Ip("203.0.113.7")};
         i.load_balancer_ips = {Ip("203.0.113.50")};
       });
     },
     WebObserved,
     nullptr,
     // Ordered by address bytes, not text.
     {"add-service TCP/203.0.113.7:80 rr", "add-service TCP/203.0.113.50:80 rr",
      "add-dest TCP/203.0.113.7:80 10.244.1.5:8080", "add-dest TCP/203.0.113.7:80 10.244.2.5:8080",
      "add-dest TCP/203.0.113.50:80 10.244.1.5:8080",
      "add-dest TCP/203.0.113.50:80 10.244.2.5:8080", "bind 203.0.113.7", "bind 203.0.113.50"}},
    {"DisabledFamilySkipped",
     [] {
       return StateBuilderForTest()
           .Add(Svc("default", "v6", "", Protocol::kTCP, 80, "fd00::10"), {Ep("fd00:244::5", 8080)})
           .Build();
     },
     [] { return ObservedIpvs(); },
     nullptr,
     {}},
    {"Ipv6WithPrefixNetmask",
     [] {
       return StateBuilderForTest()
           .Add(Svc("default", "v6", "", Protocol::kTCP, 80, "fd00::10",
                    [](ServicePortInfo& i) { i.session_affinity_client_ip = true; }),
                {Ep("fd00:244::5", 8080)})
           .Build();
     },
     [] { return ObservedIpvs(); },
     [](IpvsOptions& o) { o.families = {IpFamily::kIPv6}; },
     {"add-service TCP/[fd00::10]:80 rr persistent=10800",
      "add-dest TCP/[fd00::10]:80 [fd00:244::5]:8080", "bind fd00::10"}},
    {"ServiceWithoutEndpointsStillExists",
     [] {
       return StateBuilderForTest()
           .Add(Svc("default", "empty", "", Protocol::kTCP, 80, "10.96.0.30"), {})
           .Build();
     },
     [] { return ObservedIpvs(); },
     nullptr,
     {"add-service TCP/10.96.0.30:80 rr", "bind 10.96.0.30"}},
};

INSTANTIATE_TEST_SUITE_P(Scenarios, ReconcilerTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

TEST(ReconcilerNodePortAddressTest, FiltersLoopbackLinkLocalAndCidrs) {
  IpvsOptions o;
  const std::vector<IpAddress> local = {Ip("127.0.0.1"), Ip("192.168.1.10"), Ip("::1"),
                                        Ip("fe80::1"),   Ip("192.168.0.10"), Ip("2001:db8::1")};
  EXPECT_THAT(SelectNodePortAddresses(local, o),
              ElementsAreArray({Ip("192.168.0.10"), Ip("192.168.1.10"), Ip("2001:db8::1")}));
  // An IPv4 list restricts IPv4 only; IPv6, with nothing of its own, keeps all (kube-proxy).
  o.node_port_addresses = {Net("192.168.1.0/24")};
  EXPECT_THAT(SelectNodePortAddresses(local, o),
              ElementsAreArray({Ip("192.168.1.10"), Ip("2001:db8::1")}));
  // "primary": the Node object's first InternalIP per family.
  o.node_port_addresses.clear();
  o.node_port_primary = true;
  NodeState node;
  node.addresses = {Ip("192.168.0.10"), Ip("192.168.1.10")};
  EXPECT_THAT(SelectNodePortAddresses(local, o, node),
              ElementsAreArray({Ip("192.168.0.10"), Ip("2001:db8::1")}));
}

TEST(ReconcilerOwnershipTest, NodeAddressOwnedOnlyInNodePortRange) {
  IpvsOptions o;
  const std::set<IpAddress> dummy = {Ip("10.96.0.10")};
  const std::set<IpAddress> node(kNodeIps.begin(), kNodeIps.end());
  EXPECT_TRUE(OwnsVirtualServer({Protocol::kTCP, Ip("10.96.0.10"), 1}, dummy, node, o));
  EXPECT_TRUE(OwnsVirtualServer({Protocol::kTCP, Ip("192.168.0.10"), 30000}, dummy, node, o));
  EXPECT_FALSE(OwnsVirtualServer({Protocol::kTCP, Ip("192.168.0.10"), 22}, dummy, node, o));
  EXPECT_FALSE(OwnsVirtualServer({Protocol::kTCP, Ip("10.0.0.1"), 30000}, dummy, node, o));
}

TEST(ReconcilerServiceMatchTest, IgnoresHashedAndTimeoutOfNonPersistent) {
  IpvsService want = Svc(Protocol::kTCP, "10.96.0.10", 80);
  want.flags = 0;
  IpvsService have = want;
  have.flags = kIpvsFlagHashed;
  have.timeout = 77;
  EXPECT_TRUE(ServiceMatches(want, have));
  have.scheduler = "lc";
  EXPECT_FALSE(ServiceMatches(want, have));
}

}  // namespace
}  // namespace kpx
