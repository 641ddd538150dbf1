#include "cmd/config_writer.h"

#include <gtest/gtest.h>

#include "cmd/config_file.h"

namespace kpx {
namespace {

// --write-config-to writes what it read: the file reads back to the same settings.
TEST(ConfigWriterTest, WrittenConfigurationReadsBackToTheSameSettings) {
  KpxConfig c;
  c.mode = ProxyMode::kIpvs;
  c.cluster_cidrs = {"10.244.0.0/16", "fd00:10:244::/56"};
  c.healthz_bind_address = "[::]:10256";
  c.nodeport_addresses = {"primary"};
  c.iptables.min_sync_period = std::chrono::milliseconds(2500);
  c.ipvs.scheduler = "wlc";
  c.ipvs.exclude_cidrs = {"10.0.0.0/8"};
  c.conntrack.tcp_be_liberal = true;
  c.feature_gates = {{"TopologyAwareHints", true}};
  c.oom_score_adj = -500;
  c.detect_local_mode = "InterfaceNamePrefix";
  c.detect_local.interface_name_prefix = "veth";
  std::vector<std::string> ignored;
  auto r = ParseConfigText(RenderConfigYaml(c), KpxConfig{}, &ignored);
  ASSERT_TRUE(r.ok()) << r.status().message() << "\n" << RenderConfigYaml(c);
  EXPECT_TRUE(ignored.empty()) << ::testing::PrintToString(ignored);
  EXPECT_EQ(r->mode, ProxyMode::kIpvs);
  EXPECT_EQ(r->cluster_cidrs, c.cluster_cidrs);
  EXPECT_EQ(r->healthz_bind_address, c.healthz_bind_address);
  EXPECT_EQ(r->nodeport_addresses, c.nodeport_addresses);
  EXPECT_EQ(r->iptables.min_sync_period, c.iptables.min_sync_period);
  EXPECT_EQ(r->ipvs.scheduler, "wlc");
  EXPECT_EQ(r->ipvs.exclude_cidrs, c.ipvs.exclude_cidrs);
  EXPECT_TRUE(r->conntrack.tcp_be_liberal);
  EXPECT_EQ(r->feature_gates, c.feature_gates);
  EXPECT_EQ(r->oom_score_adj, -500);
  EXPECT_EQ(r->detect_local.interface_name_prefix, "veth");
}

}  // namespace
}  // namespace kpx
