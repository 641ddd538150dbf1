#include "proxier/ipvs/ipvs_ipsets.h"

#include <gtest/gtest.h>

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::Net;

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

}  // namespace
}  // namespace kpx
