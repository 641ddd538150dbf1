#include "proxier/core/node_port_addresses.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }
Cidr Net(const char* s) { return *Cidr::Parse(s); }

// IP plan: primary InternalIP 192.168.0.10 / 2001:db8::10, a second NIC 192.168.1.10, loopback.
const std::vector<IpAddress> kHost = {Ip("127.0.0.1"), Ip("192.168.0.10"), Ip("192.168.1.10"),
                                      Ip("::1"),       Ip("2001:db8::10"), Ip("2001:db8::11")};

NodeState Node() {
  NodeState n;
  n.addresses = {Ip("192.168.0.10"), Ip("2001:db8::10")};
  return n;
}

TEST(NodePortAddressesTest, NothingConfiguredMatchesEveryAddress) {
  const NodePortAddresses npa;
  EXPECT_TRUE(npa.MatchesAll(IpFamily::kIPv4, Node()));
  EXPECT_TRUE(npa.MatchesAll(IpFamily::kIPv6, Node()));
}

TEST(NodePortAddressesTest, CidrsRestrictTheirFamilyOnly) {
  const NodePortAddresses npa{{Net("192.168.1.0/24")}, false};
  EXPECT_FALSE(npa.MatchesAll(IpFamily::kIPv4, Node()));
  EXPECT_EQ(npa.Select(IpFamily::kIPv4, kHost, Node(), false),
            std::vector<IpAddress>{Ip("192.168.1.10")});
  // kube-proxy's NewNodePortAddresses: a family without a CIDR of its own accepts all.
  EXPECT_TRUE(npa.MatchesAll(IpFamily::kIPv6, Node()));
  const NodePortAddresses zero{{Net("0.0.0.0/0")}, false};
  EXPECT_TRUE(zero.MatchesAll(IpFamily::kIPv4, Node()));
}

TEST(NodePortAddressesTest, LoopbackOnlyWhenAllowed) {
  const NodePortAddresses npa{{Net("127.0.0.0/8"), Net("192.168.0.0/24")}, false};
  EXPECT_EQ(npa.Select(IpFamily::kIPv4, kHost, Node(), false),
            std::vector<IpAddress>{Ip("192.168.0.10")});
  EXPECT_EQ(npa.Select(IpFamily::kIPv4, kHost, Node(), true),
            (std::vector<IpAddress>{Ip("127.0.0.1"), Ip("192.168.0.10")}));
}

TEST(NodePortAddressesTest, PrimaryIsTheNodesFirstInternalIpPerFamily) {
  const NodePortAddresses npa{{}, true};
  EXPECT_FALSE(npa.MatchesAll(IpFamily::kIPv4, Node()));
  EXPECT_EQ(npa.Select(IpFamily::kIPv4, kHost, Node(), false),
            std::vector<IpAddress>{Ip("192.168.0.10")});
  EXPECT_EQ(npa.Select(IpFamily::kIPv6, kHost, Node(), false),
            std::vector<IpAddress>{Ip("2001:db8::10")});
  // The primary IP must be on an interface: the Node object alone does not make it local.
  EXPECT_TRUE(npa.Select(IpFamily::kIPv4, {Ip("192.168.1.10")}, Node(), false).empty());
  // No InternalIP of a family: that family accepts everywhere, as kube-proxy.
  NodeState v4_only;
  v4_only.addresses = {Ip("192.168.0.10")};
  EXPECT_TRUE(npa.MatchesAll(IpFamily::kIPv6, v4_only));
}

}  // namespace
}  // namespace kpx
