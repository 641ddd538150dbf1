#include "proxier/core/service_port_info.h"

#include <gtest/gtest.h>

#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::MakeService;

TEST(ServicePortInfoTest, SplitsPortsAndFamilies) {
  const auto svc = MakeService("ns", "web", [](Service& s) {
    s.type = ServiceType::kNodePort;
    s.cluster_ips = {Ip("fd00::10"), Ip("10.96.0.10")};
    s.ports = {{"http", Protocol::kTCP, 80, 30080}, {"dns", Protocol::kUDP, 53, 30053}};
    s.external_traffic_policy = TrafficPolicy::kLocal;
  });
  const auto ports = ServicePortsOf(svc);
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].name.ToString(), "ns/web:http");
  EXPECT_EQ(ports[1].name.protocol, Protocol::kUDP);
  EXPECT_EQ(ports[0].ClusterIp(IpFamily::kIPv4)->ToString(), "10.96.0.10");
  EXPECT_EQ(ports[0].ClusterIp(IpFamily::kIPv6)->ToString(), "fd00::10");
  EXPECT_EQ(ports[1].node_port, 30053);
  EXPECT_TRUE(ports[0].ExternalPolicyLocal());
}

TEST(ServicePortInfoTest, IgnoresWhatKubeProxyIgnores) {
  EXPECT_TRUE(ServicePortsOf(MakeService("ns", "h", [](Service& s) {
                s.headless = true;
                s.cluster_ips.clear();
              })).empty());
  EXPECT_TRUE(ServicePortsOf(MakeService("ns", "x", [](Service& s) {
                s.type = ServiceType::kExternalName;
              })).empty());
  EXPECT_TRUE(ServicePortsOf(MakeService("ns", "o", [](Service& s) {
                s.meta.labels["service.kubernetes.io/service-proxy-name"] = "other";
              })).empty());
  EXPECT_EQ(ServicePortsOf(MakeService("ns", "ok")).size(), 1u);
}

TEST(ServicePortInfoTest, DropsFieldsThatDoNotApplyToTheType) {
  const auto ports = ServicePortsOf(MakeService("ns", "c", [](Service& s) {
    s.ports[0].node_port = 30001;  // left over from a type change
    s.external_traffic_policy = TrafficPolicy::kLocal;
    s.load_balancer_ingress_ips = {Ip("192.0.2.1")};
    s.health_check_node_port = 31000;
  }));
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0].node_port, 0);
  EXPECT_EQ(ports[0].external_policy, TrafficPolicy::kCluster);
  EXPECT_TRUE(ports[0].load_balancer_ips.empty());
  EXPECT_EQ(ports[0].health_check_node_port, 0);
  EXPECT_FALSE(ports[0].ExternallyAccessible());
}

}  // namespace
}  // namespace kpx
