#include "cmd/config_file.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

// Shaped like the file kubeadm writes into the kube-proxy ConfigMap.
constexpr char kKubeadmConfig[] = R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 1s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
metricsBindAddress: ""
mode: ipvs
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
)";

TEST(ConfigFileTest, LoadsKubeadmStyleFileKeepingDefaultsForZeroValues) {
  auto r = ParseConfigText(kKubeadmConfig, KpxConfig{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mode, ProxyMode::kIpvs);
  EXPECT_EQ(r->kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_EQ(r->cluster_cidrs, (std::vector<std::string>{"10.244.0.0/16", "fd00:10:244::/56"}));
  EXPECT_EQ(r->iptables.min_sync_period.count(), 1000);
  EXPECT_EQ(r->iptables.masquerade_bit, 14);  // null keeps the default
}

TEST(ConfigFileTest, AppliesEveryFieldKpxUses) {
  auto r = ParseConfigText(R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: node-7
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 0.0.0.0:10249
nodePortAddresses: [192.168.0.0/24, primary]
iptables: {masqueradeAll: true, masqueradeBit: 15, syncPeriod: 45s, minSyncPeriod: 500ms}
ipvs: {scheduler: wlc, tcpTimeout: 900s, tcpFinTimeout: 30s, udpTimeout: 10s}
conntrack: {maxPerCore: 0, min: 1000}
)",
                           KpxConfig{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->hostname_override, "node-7");
  EXPECT_EQ(r->healthz_bind_address, "127.0.0.1:10256");
  EXPECT_EQ(r->metrics_bind_address, "0.0.0.0:10249");
  EXPECT_EQ(r->nodeport_addresses, (std::vector<std::string>{"192.168.0.0/24", "primary"}));
  EXPECT_TRUE(r->iptables.masquerade_all);
  EXPECT_EQ(r->iptables.masquerade_bit, 15);
  EXPECT_EQ(r->iptables.sync_period.count(), 45000);
  EXPECT_EQ(r->iptables.min_sync_period.count(), 500);
  EXPECT_EQ(r->ipvs.scheduler, "wlc");
  EXPECT_EQ(r->ipvs.tcp_timeout.count(), 900000);
  EXPECT_EQ(r->conntrack.max_per_core, 0);
  EXPECT_EQ(r->conntrack.min, 1000);
}

TEST(ConfigFileTest, ErrorsNameTheField) {
  const std::string head =
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";
  const std::pair<std::string, std::string> cases[] = {
      {head + "iptables:\n  syncPeriod: soon\n",
       "iptables.syncPeriod: \"soon\" is not a duration (e.g. 30s, 1m)"},
      {head + "iptables:\n  masqueradeAll: maybe\n",
       "iptables.masqueradeAll: \"maybe\" is not a boolean"},
      {head + "conntrack:\n  min: many\n", "conntrack.min: \"many\" is not an integer"},
      {head + "nodePortAddresses: 10.0.0.0/8\n", "nodePortAddresses: expected a list"},
      {head + "ipvs: [1]\n", "ipvs: expected a mapping"},
      {"kind: KubeProxyConfiguration\napiVersion: v1\n",
       "apiVersion: want kubeproxy.config.k8s.io/v1alpha1"},
      {"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n",
       "kind: want KubeProxyConfiguration"},
      {"- a\n- b\n", "not a KubeProxyConfiguration: expected a mapping"},
  };
  for (const auto& [text, message] : cases) {
    auto r = ParseConfigText(text, KpxConfig{});
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), message);
  }
  auto r = ParseConfigText("a: [unclosed\n", KpxConfig{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("not valid YAML", 0), 0u);
}

// kube-proxy's v1alpha1 defaults.go, field by field: zero durations and empty strings become the
// defaults, null pointers keep them, explicit zeros of pointer fields stay zero.
TEST(ConfigFileTest, ZeroValuesGetKubeProxysDefaults) {
  auto r = ParseConfigText(R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
bindAddress: ""
healthzBindAddress: ""
metricsBindAddress: ""
configSyncPeriod: 0s
mode: ""
detectLocalMode: ""
clientConnection: {qps: 0, burst: 0, contentType: ""}
iptables: {syncPeriod: 0s, minSyncPeriod: 0s, masqueradeBit: null}
ipvs: {syncPeriod: 0s, minSyncPeriod: 0s, scheduler: ""}
conntrack: {maxPerCore: 0, min: null, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: null}
oomScoreAdj: null
)",
                           KpxConfig{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->bind_address, "0.0.0.0");
  EXPECT_EQ(r->healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(r->metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(r->mode, ProxyMode::kIptables);
  EXPECT_EQ(r->detect_local_mode, "ClusterCIDR");
  EXPECT_EQ(r->iptables.sync_period.count(), 30000);
  EXPECT_EQ(r->iptables.min_sync_period.count(), 1000);  // 0s -> 1s, as kube-proxy
  EXPECT_EQ(r->iptables.masquerade_bit, 14);
  EXPECT_EQ(r->ipvs.sync_period.count(), 30000);
  EXPECT_EQ(r->ipvs.min_sync_period.count(), 0);  // not defaulted by kube-proxy
  EXPECT_EQ(r->ipvs.scheduler, "rr");
  EXPECT_EQ(r->conntrack.max_per_core, 0);  // explicit 0: leave the kernel's limit
  EXPECT_EQ(r->conntrack.min, 131072);
  EXPECT_EQ(r->conntrack.tcp_established_timeout.count(), 0);
  EXPECT_EQ(r->conntrack.tcp_close_wait_timeout.count(), 3600000);
  EXPECT_EQ(r->oom_score_adj, -999);
  EXPECT_EQ(r->no_effect.config_sync_period.count(), 15 * 60 * 1000);
  EXPECT_EQ(r->no_effect.kube_api_qps, 5);
  EXPECT_EQ(r->no_effect.kube_api_burst, 10);
}

TEST(ConfigFileTest, ListenerDefaultsFollowAnIpv6BindAddressAndBareIpsGetPorts) {
  const std::string head =
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";
  auto v6 = ParseConfigText(head + "bindAddress: \"::\"\n", KpxConfig{});
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->healthz_bind_address, "[::]:10256");
  EXPECT_EQ(v6->metrics_bind_address, "[::1]:10249");
  auto bare = ParseConfigText(
      head + "metricsBindAddress: 0.0.0.0\nhealthzBindAddress: \"fd00::1\"\n", KpxConfig{});
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  EXPECT_EQ(bare->metrics_bind_address, "0.0.0.0:10249");
  EXPECT_EQ(bare->healthz_bind_address, "[fd00::1]:10256");
}

// kube-proxy decodes v1alpha1 strictly, then leniently: fields it does not (or no longer)
// define are dropped with a log line; a wrong type for a field it defines is still an error.
TEST(ConfigFileTest, UnknownAndRemovedFieldsAreIgnoredAsKubeProxysLenientDecodingDoes) {
  std::vector<std::string> ignored;
  auto r = ParseConfigText(R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
resourceContainer: /kube-proxy
windowsRunAsService: false
portRange: ""
udpIdleTimeout: 250ms
mdoe: ipvs
conntrack: {max: null, maxPerCore: 32768}
iptables: {syncPerod: 1s}
winkernel: {enableDSR: false, networkName: ""}
nftables: {masqueradeBit: 14, syncPeriod: 30s}
logging: {format: text, verbosity: 3, flushFrequency: 5s}
detectLocal: {bridgeInterface: cbr0}
)",
                           KpxConfig{}, &ignored);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(ignored, (std::vector<std::string>{"resourceContainer", "udpIdleTimeout", "mdoe",
                                               "conntrack.max", "iptables.syncPerod"}));
  EXPECT_EQ(r->mode, ProxyMode::kIptables);  // the misspelt field changed nothing
  EXPECT_EQ(r->verbosity, 3);
  EXPECT_EQ(r->detect_local.bridge_interface, "cbr0");
  const std::string head =
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {head + "enableProfiling: maybe\n", "enableProfiling: \"maybe\" is not a boolean"},
           {head + "nftables: {syncPeriod: soon}\n",
            "nftables.syncPeriod: \"soon\" is not a duration (e.g. 30s, 1m)"},
           {head + "featureGates: \"\"\n", "featureGates: expected a mapping of names to booleans"},
           {head + "mode: nftables2\n",
            "mode: unknown proxy mode \"nftables2\" (want iptables, ipvs or userspace)"},
       }) {
    auto bad = ParseConfigText(text, KpxConfig{});
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_EQ(bad.status().message(), message);
  }
}

TEST(ConfigFileTest, MissingFileIsAnError) {
  auto r = LoadConfigFile("/nonexistent/kpx.yaml", KpxConfig{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot read config file /nonexistent/kpx.yaml");
}

}  // namespace
}  // namespace kpx
