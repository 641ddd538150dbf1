#include "cmd/node_port_health_listener.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

// IP plan: primary 192.168.0.10, second NIC 10.9.0.10, IPv6 2001:db8::10 and link-local.
const std::vector<IpAddress> kHost = {Ip("127.0.0.1"), Ip("10.9.0.10"),    Ip("192.168.0.10"),
                                      Ip("::1"),       Ip("2001:db8::10"), Ip("fe80::1")};

NodeState Node() {
  NodeState n;
  n.addresses = {Ip("192.168.0.10")};
  return n;
}

// kube-proxy binds health-check node ports to the --nodeport-addresses it selects, not 0.0.0.0.
TEST(NodePortHealthListenerTest, BindsWhereNodePortsAnswer) {
  EXPECT_EQ(NodePortHealthListener::BindAddresses({}, kHost, Node(), "0.0.0.0"),
            std::vector<std::string>{"0.0.0.0"});
  const NodePortAddresses primary{{}, true};
  // IPv4 restricted to the primary IP; IPv6 has no primary, so it stays open (kube-proxy).
  EXPECT_EQ(NodePortHealthListener::BindAddresses(primary, kHost, Node(), "0.0.0.0"),
            (std::vector<std::string>{"192.168.0.10", "2001:db8::10"}));
  const NodePortAddresses cidrs{{*Cidr::Parse("10.0.0.0/8"), *Cidr::Parse("2001:db8::/64")}, false};
  EXPECT_EQ(NodePortHealthListener::BindAddresses(cidrs, kHost, Node(), "0.0.0.0"),
            (std::vector<std::string>{"10.9.0.10", "2001:db8::10"}));
}

}  // namespace
}  // namespace kpx
