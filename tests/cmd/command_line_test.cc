#include "cmd/command_line.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cmd/feature_gates.h"
#include "tests/support/temp_dir.h"

namespace kpx {
namespace {

class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Write("config.conf",
                       "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                       "kind: KubeProxyConfiguration\n"
                       "mode: ipvs\n"
                       "clusterCIDR: 10.244.0.0/16\n"
                       "iptables:\n  syncPeriod: 45s\n  masqueradeAll: true\n");
  }
  Result<CommandLine> Parse(std::vector<const char*> args) {
    args.insert(args.begin(), "kpx");
    return ParseCommandLine(static_cast<int>(args.size()), args.data());
  }

  testing::TempDir dir_;
  std::string path_;
};

TEST_F(CommandLineTest, FlagsOverrideTheFileWhichOverridesDefaults) {
  const std::string config = "--config=" + path_;
  auto r = Parse({config.c_str(), "--mode=iptables", "--iptables-sync-period=10s"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.mode, ProxyMode::kIptables);              // flag over file
  EXPECT_EQ(r->config.iptables.sync_period.count(), 10000);     // flag over file
  EXPECT_TRUE(r->config.iptables.masquerade_all);               // file over default
  EXPECT_EQ(r->config.cluster_cidrs.front(), "10.244.0.0/16");  // file over default
  EXPECT_EQ(r->config.iptables.min_sync_period.count(), 1000);  // default
  // Both differ from kube-proxy, which ignores them next to --config: they are listed.
  EXPECT_EQ(r->flags_over_config, (std::vector<std::string>{"--mode", "--sync-period"}));
}

TEST_F(CommandLineTest, FlagOrderDoesNotMatter) {
  const std::string config = "--config=" + path_;
  auto r = Parse({"--mode=iptables", config.c_str()});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.mode, ProxyMode::kIptables);
}

TEST_F(CommandLineTest, ErrorsAreClearAndNameTheSource) {
  EXPECT_EQ(Parse({"--mode=bogus"}).status().message(),
            "mode: unknown proxy mode \"bogus\" (want iptables, ipvs, nftables or userspace)");
  EXPECT_EQ(Parse({"--detect-local-mode=Bridge"}).status().message(),
            "detectLocalMode: \"Bridge\" is not supported (want ClusterCIDR, NodeCIDR, "
            "BridgeInterface or InterfaceNamePrefix)");
  EXPECT_EQ(Parse({"--proxy-mode=bogus"}).status().message(),
            "mode: unknown proxy mode \"bogus\" (want iptables, ipvs, nftables or userspace)");
  EXPECT_EQ(Parse({"--config=/nonexistent"}).status().message(),
            "cannot read config file /nonexistent");
  std::ofstream(path_) << "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                          "kind: KubeProxyConfiguration\niptables:\n  masqueradeBit: 40\n";
  const std::string config = "--config=" + path_;
  EXPECT_EQ(Parse({config.c_str()}).status().message(),
            "invalid configuration: iptables.masqueradeBit: 40 is not in [0, 31]");
  // A flag can repair what the file got wrong.
  EXPECT_TRUE(Parse({config.c_str(), "--iptables-masquerade-bit=14"}).ok());
}

TEST_F(CommandLineTest, HelpSkipsValidation) {
  auto r = Parse({"--help", "--iptables-masquerade-bit=99"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
  EXPECT_NE(r->usage.find("--kubeconfig value"), std::string::npos);
}

TEST_F(CommandLineTest, ShorthandHelpAndVersionSkipValidation) {
  auto h = Parse({"-h", "--iptables-masquerade-bit=99"});
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->help);
  auto v = Parse({"--version", "--iptables-masquerade-bit=99"});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->config.version_request, "true");
  EXPECT_EQ(VersionText("true").rfind("Kubernetes v1.", 0), 0u);
  auto raw = Parse({"--version=raw"});
  ASSERT_TRUE(raw.ok());
  EXPECT_NE(VersionText(raw->config.version_request).find("GitVersion"), std::string::npos);
}

// k3s passes the listeners' addresses without a port; kube-proxy appends the default port.
TEST_F(CommandLineTest, BindAddressesWithoutAPortGetTheDefaultPort) {
  auto r = Parse({"--healthz-bind-address=127.0.0.1", "--metrics-bind-address=::"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.healthz_bind_address, "127.0.0.1:10256");
  EXPECT_EQ(r->config.metrics_bind_address, "[::]:10249");
  auto keep = Parse({"--healthz-bind-address=[::1]:9999"});
  ASSERT_TRUE(keep.ok());
  EXPECT_EQ(keep->config.healthz_bind_address, "[::1]:9999");
}

TEST_F(CommandLineTest, DeprecatedPortFlagsDisableOrFillInLikeKubeProxy) {
  auto off = Parse({"--healthz-port=0", "--metrics-port=0"});
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_EQ(off->config.healthz_bind_address, "");
  EXPECT_EQ(off->config.metrics_bind_address, "");
  // The address already has a port, so kube-proxy keeps it (AppendPortIfNeeded).
  auto on = Parse({"--healthz-port=12345"});
  ASSERT_TRUE(on.ok());
  EXPECT_EQ(on->config.healthz_bind_address, "0.0.0.0:10256");
}

TEST_F(CommandLineTest, FeatureGatesAreParsedAndUnknownGatesRejected) {
  auto ok = Parse({"--feature-gates=TopologyAwareHints=true, ServiceTrafficDistribution=false"});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->config.feature_gates,
            (std::map<std::string, bool>{{"ServiceTrafficDistribution", false},
                                         {"TopologyAwareHints", true}}));
  EXPECT_EQ(Parse({"--feature-gates=NoSuchGate=true"}).status().message(),
            "invalid configuration: featureGates: unrecognized feature gate: NoSuchGate");
  EXPECT_EQ(Parse({"--feature-gates=TopologyAwareHints"}).status().message(),
            "missing bool value for TopologyAwareHints");
  EXPECT_EQ(Parse({"--feature-gates=TopologyAwareHints=yes"}).status().message(),
            "invalid value of TopologyAwareHints=yes, err: strconv.ParseBool: parsing \"yes\": "
            "invalid syntax");
}

TEST(FeatureGatesTest, KnowsGatesAcrossTheTableAndIsCaseSensitive) {
  for (const char* gate : {"AllAlpha", "ContextualLogging", "NFTablesProxyMode",
                           "TopologyAwareHints", "WindowsHostNetwork"}) {
    EXPECT_TRUE(FeatureGates::Known(gate)) << gate;
  }
  EXPECT_FALSE(FeatureGates::Known("topologyawarehints"));
  EXPECT_FALSE(FeatureGates::Known(""));
}

TEST_F(CommandLineTest, BlankHostnameOverrideIsAnError) {
  EXPECT_EQ(Parse({"--hostname-override=  "}).status().message(),
            "empty hostname-override is invalid");
  auto r = Parse({"--hostname-override= node-1 "});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->config.hostname_override, "node-1");
}

}  // namespace
}  // namespace kpx
