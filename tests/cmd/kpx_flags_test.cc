#include "cmd/kpx_flags.h"

#include <gtest/gtest.h>

#include <functional>

#include "proxier/iptables/iptables_options.h"

namespace kpx {
namespace {

TEST(KpxFlagsTest, DefaultsAreValidAndMatchKubeProxy) {
  KpxConfig c;
  EXPECT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(c.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(c.iptables.masquerade_bit, 14);
  EXPECT_EQ(c.iptables.sync_period.count(), 30000);
  EXPECT_EQ(c.iptables.min_sync_period.count(), 1000);
}

// One default for one setting: the iptables dataplane's own default is kpx's, not kube-proxy's.
TEST(KpxFlagsTest, IptablesOptionsDefaultsAgreeWithTheConfig) {
  EXPECT_EQ(IptablesOptions{}.localhost_nodeports, KpxConfig{}.iptables.localhost_nodeports);
  EXPECT_EQ(IptablesOptions{}.masquerade_bit, KpxConfig{}.iptables.masquerade_bit);
  EXPECT_EQ(IptablesOptions{}.conntrack_tcp_liberal, KpxConfig{}.conntrack.tcp_be_liberal);
  // kube-proxy's FullSyncPeriod, one hour.
  EXPECT_EQ(IptablesOptions{}.full_sync_period, KpxConfig{}.iptables.full_sync_period);
  EXPECT_EQ(KpxConfig{}.iptables.full_sync_period, std::chrono::hours(1));
}

TEST(KpxFlagsTest, ValidationNamesTheField) {
  struct Case {
    std::function<void(KpxConfig&)> mutate;
    const char* prefix;
  };
  const Case cases[] = {
      {[](KpxConfig& c) { c.cluster_cidrs = {"10.0.0.0/33"}; }, "clusterCIDR:"},
      {[](KpxConfig& c) { c.nodeport_addresses = {"bogus"}; }, "nodePortAddresses:"},
      {[](KpxConfig& c) { c.bind_address = "localhost"; }, "bindAddress:"},
      {[](KpxConfig& c) { c.healthz_bind_address = "0.0.0.0"; }, "healthzBindAddress:"},
      {[](KpxConfig& c) { c.metrics_bind_address = "1.2.3.4:99999"; }, "metricsBindAddress:"},
      {[](KpxConfig& c) { c.iptables.sync_period = std::chrono::milliseconds(0); },
       "iptables.syncPeriod:"},
      {[](KpxConfig& c) { c.iptables.min_sync_period = std::chrono::milliseconds(60000); },
       "iptables.minSyncPeriod:"},
      {[](KpxConfig& c) { c.iptables.masquerade_bit = 32; }, "iptables.masqueradeBit:"},
      {[](KpxConfig& c) { c.iptables.backend = "ebpf"; }, "iptables backend:"},
      {[](KpxConfig& c) { c.iptables.full_sync_period = std::chrono::milliseconds(-1); },
       "iptables-full-sync-period:"},
      {[](KpxConfig& c) { c.detect_local_mode = LocalDetectMode::kBridgeInterface; },
       "detectLocal.bridgeInterface:"},
      {[](KpxConfig& c) { c.detect_local_mode = LocalDetectMode::kInterfaceNamePrefix; },
       "detectLocal.interfaceNamePrefix:"},
      {[](KpxConfig& c) {
         c.detect_local_mode = LocalDetectMode::kBridgeInterface;
         c.detect_local.bridge_interface = "a-sixteen-bytes!";
       },
       "detectLocal.bridgeInterface:"},
      {[](KpxConfig& c) {
         c.detect_local_mode = LocalDetectMode::kInterfaceNamePrefix;
         c.detect_local.interface_name_prefix = "a-sixteen-bytes!";
       },
       "detectLocal.interfaceNamePrefix:"},
      {[](KpxConfig& c) { c.oom_score_adj = -1001; }, "oomScoreAdj:"},
      {[](KpxConfig& c) {
         c.feature_gates = {{"Bogus", true}};
       },
       "featureGates:"},
      {[](KpxConfig& c) {
         c.nodeport_addresses = {"primary", "10.0.0.0/8"};
       },
       "nodePortAddresses:"},
      {[](KpxConfig& c) { c.ipvs.exclude_cidrs = {"x"}; }, "ipvs.excludeCIDRs:"},
      {[](KpxConfig& c) { c.conntrack.max_per_core = -1; }, "conntrack.maxPerCore:"},
      {[](KpxConfig& c) { c.no_effect.logging_format = "xml"; }, "logging.format:"},
  };
  for (const auto& c : cases) {
    KpxConfig config;
    c.mutate(config);
    const Status st = ValidateConfig(config);
    ASSERT_FALSE(st.ok()) << c.prefix;
    EXPECT_EQ(st.message().rfind(c.prefix, 0), 0u) << st.message();
  }
}

TEST(KpxFlagsTest, KubeProxyCommandLineParses) {
  KpxConfig c;
  FlagSet f;
  RegisterKpxFlags(f, c);
  const char* argv[] = {"kpx",
                        "--kubeconfig=/var/lib/kube-proxy/kubeconfig.conf",
                        "--hostname-override=node-1",
                        "--cluster-cidr=10.244.0.0/16",
                        "--iptables-sync-period=15s",
                        "--iptables-min-sync-period=2s",
                        "--masquerade-all",
                        "--v=2"};
  ASSERT_TRUE(f.Parse(8, argv).ok());
  EXPECT_EQ(c.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_EQ(c.hostname_override, "node-1");
  EXPECT_EQ(c.iptables.sync_period.count(), 15000);
  EXPECT_EQ(c.iptables.min_sync_period.count(), 2000);
  EXPECT_TRUE(c.iptables.masquerade_all);
  EXPECT_EQ(c.verbosity, 2);
  EXPECT_TRUE(ValidateConfig(c).ok());
}

}  // namespace
}  // namespace kpx
