#include "proxier/netfilter/local_traffic_detector.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

Cidr Net(const char* s) { return *Cidr::Parse(s); }

TEST(LocalTrafficDetectorTest, EachOfKubeProxysModes) {
  const std::vector<Cidr> cluster = {Net("10.244.0.0/16"), Net("fd00:10:244::/56")};
  const std::vector<Cidr> pod = {Net("10.244.3.0/24")};
  struct Case {
    LocalDetectMode mode;
    IpFamily family;
    std::string iface;
    std::string if_local;
    std::string if_not_local;
  };
  const Case cases[] = {
      {LocalDetectMode::kClusterCidr, IpFamily::kIPv4, "", "-s 10.244.0.0/16",
       "! -s 10.244.0.0/16"},
      {LocalDetectMode::kClusterCidr, IpFamily::kIPv6, "", "-s fd00:10:244::/56",
       "! -s fd00:10:244::/56"},
      {LocalDetectMode::kNodeCidr, IpFamily::kIPv4, "", "-s 10.244.3.0/24", "! -s 10.244.3.0/24"},
      {LocalDetectMode::kNodeCidr, IpFamily::kIPv6, "", "", ""},  // no podCIDR of the family
      {LocalDetectMode::kBridgeInterface, IpFamily::kIPv4, "cbr0", "-i cbr0", "! -i cbr0"},
      {LocalDetectMode::kInterfaceNamePrefix, IpFamily::kIPv6, "veth", "-i veth+", "! -i veth+"},
      {LocalDetectMode::kBridgeInterface, IpFamily::kIPv4, "", "", ""},
      {LocalDetectMode::kNone, IpFamily::kIPv4, "cbr0", "", ""},
  };
  for (const Case& c : cases) {
    const auto d = LocalTrafficDetector::For(c.mode, c.family, cluster, pod, c.iface);
    EXPECT_EQ(d.if_local, c.if_local);
    EXPECT_EQ(d.if_not_local, c.if_not_local);
    EXPECT_EQ(d.implemented(), !c.if_local.empty());
  }
}

TEST(LocalTrafficDetectorTest, ParsesKubeProxysNames) {
  EXPECT_EQ(ParseLocalDetectMode(""), LocalDetectMode::kClusterCidr);
  EXPECT_EQ(ParseLocalDetectMode("NodeCIDR"), LocalDetectMode::kNodeCidr);
  EXPECT_EQ(ParseLocalDetectMode("BridgeInterface"), LocalDetectMode::kBridgeInterface);
  EXPECT_EQ(ParseLocalDetectMode("InterfaceNamePrefix"), LocalDetectMode::kInterfaceNamePrefix);
  EXPECT_FALSE(ParseLocalDetectMode("clustercidr").has_value());
}

}  // namespace
}  // namespace kpx
