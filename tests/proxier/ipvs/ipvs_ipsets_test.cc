#include "proxier/ipvs/ipvs_ipsets.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/support/addresses.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::Ip;
using testing::Net;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: services 10.96.0.0/16 and fd00:96::/64; pods 10.244.0.0/16; load balancer
// 198.51.100.0/24, clients 192.0.2.0/24.
TEST(IpsetEntryTest, LinesSpellEachSetTypeAsIpsetSavePrintsIt) {
  const IpsetEntry cluster{
      IpsetEntrySet(kClusterIpSet, IpFamily::kIPv4), Protocol::kTCP, 80, Ip("10.96.0.1"), {}};
  EXPECT_EQ(cluster.Line(), "KUBE-CLUSTER-IP 10.96.0.1,tcp:80");
  const IpsetEntry cluster6{
      IpsetEntrySet(kClusterIpSet, IpFamily::kIPv6), Protocol::kUDP, 53, Ip("fd00:96::a"), {}};
  EXPECT_EQ(cluster6.Line(), "KUBE-6-CLUSTER-IP fd00:96::a,udp:53");
  const IpsetEntry hairpin{
      IpsetEntrySet(kLoopBackSet, IpFamily::kIPv4), Protocol::kSCTP, 8080, Ip("10.244.1.5"), {}};
  EXPECT_EQ(hairpin.Line(), "KUBE-LOOP-BACK 10.244.1.5,sctp:8080,10.244.1.5");
  const IpsetEntry source{IpsetEntrySet(kLoadBalancerSourceCidrSet, IpFamily::kIPv4),
                          Protocol::kTCP, 443, Ip("198.51.100.1"), Net("192.0.2.0/24")};
  EXPECT_EQ(source.Line(), "KUBE-LOAD-BALANCER-SOURCE-CIDR 198.51.100.1,tcp:443,192.0.2.0/24");
  const IpsetEntry host{IpsetEntrySet(kLoadBalancerSourceCidrSet, IpFamily::kIPv4), Protocol::kTCP,
                        443, Ip("198.51.100.1"), Net("192.0.2.7/32")};
  EXPECT_EQ(host.Member(), "198.51.100.1,tcp:443,192.0.2.7") << "a full prefix is printed bare";
  const IpsetEntry node_port{
      IpsetEntrySet(kNodePortUdpSet, IpFamily::kIPv6), Protocol::kTCP, 30053, {}, {}};
  EXPECT_EQ(node_port.Line(), "KUBE-NODE-PORT-UDP 30053") << "bitmap sets are shared";
}

// An SCTP NodePort is masqueraded like a TCP or UDP one (the VM test IpvsVmTest.B3 sends the
// traffic), but the kernel's bitmap:port sets match only TCP and UDP: its entries are NodePort
// address . sctp:port, as in kube-proxy, one per address of the family.
TEST(IpsetEntryTest, SctpNodePortsAreAddressAndPortEntries) {
  StateBuilderForTest b("node-a");
  b.Add(Svc("default", "sig", "", Protocol::kSCTP, 9, "10.96.0.40",
            [](ServicePortInfo& i) { i.node_port = 30099; }),
        {Ep("10.244.1.5", 8080)});
  b.Add(Svc("default", "sig-local", "", Protocol::kSCTP, 9, "10.96.0.41",
            [](ServicePortInfo& i) {
              i.node_port = 30098;
              i.external_policy = TrafficPolicy::kLocal;
            }),
        {Ep("10.244.1.5", 8080)});
  const DesiredState state = b.Build();
  const std::vector<IpAddress> node_ips = {Ip("10.0.0.1"), Ip("10.0.1.1"), Ip("fd00::1")};
  std::set<std::string> lines;
  for (const auto& [name, sp] : state.services) {
    for (const IpsetEntry& e : ServicePortIpsetEntries(*sp, IpFamily::kIPv4, node_ips)) {
      lines.insert(e.Line());
    }
  }
  EXPECT_EQ(lines, (std::set<std::string>{
                       "KUBE-CLUSTER-IP 10.96.0.40,sctp:9",
                       "KUBE-CLUSTER-IP 10.96.0.41,sctp:9",
                       "KUBE-NODE-PORT-SCTP-HASH 10.0.0.1,sctp:30099",
                       "KUBE-NODE-PORT-SCTP-HASH 10.0.1.1,sctp:30099",
                       "KUBE-NODE-PORT-SCTP-HASH 10.0.0.1,sctp:30098",
                       "KUBE-NODE-PORT-SCTP-HASH 10.0.1.1,sctp:30098",
                       "KUBE-NODE-PORT-LOCAL-SCTP-HASH 10.0.0.1,sctp:30098",
                       "KUBE-NODE-PORT-LOCAL-SCTP-HASH 10.0.1.1,sctp:30098",
                   }));
}

}  // namespace
}  // namespace kpx
