// kpx on the configuration files other projects write for kube-proxy (tests/cmd/testdata, with
// their sources in its README): each loads unchanged and means what it means to kube-proxy.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cmd/command_line.h"
#include "cmd/config_file.h"
#include "cmd/kpx_flags.h"

namespace kpx {
namespace {

std::string DataPath(const std::string& name) { return std::string(KPX_CMD_TESTDATA) + "/" + name; }

std::string Read(const std::string& name) {
  std::ifstream in(DataPath(name));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RealFilesTest, KubeProxysOwnDefaultedObjectLoadsWithEveryFieldKnown) {
  std::vector<std::string> ignored;
  auto r = ParseConfigText(Read("kube-proxy-scheme-after-v1alpha1.yaml"), KpxConfig{}, &ignored);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(ignored.empty()) << ::testing::PrintToString(ignored);
  EXPECT_TRUE(ValidateConfig(*r).ok());
  EXPECT_EQ(r->mode, ProxyMode::kIptables);
  EXPECT_EQ(r->healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(r->metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(r->iptables.min_sync_period.count(), 1000);
  EXPECT_EQ(r->iptables.localhost_nodeports, true);  // the file says so; kpx's default is false
  EXPECT_EQ(r->ipvs.sync_period.count(), 30000);     // 0s defaulted
  EXPECT_EQ(r->oom_score_adj, -999);
}

TEST(RealFilesTest, KubeadmConfigMapsConfigConfGetsKubeProxysDefaults) {
  const YAML::Node cm = YAML::Load(Read("kubeadm-kube-proxy-configmap.yaml"));
  const std::string conf = cm["data"]["config.conf"].as<std::string>();
  std::vector<std::string> ignored;
  auto r = ParseConfigText(conf, KpxConfig{}, &ignored);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(ignored.empty()) << ::testing::PrintToString(ignored);
  EXPECT_TRUE(ValidateConfig(*r).ok()) << ValidateConfig(*r).message();
  EXPECT_EQ(r->kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_EQ(r->cluster_cidrs, (std::vector<std::string>{"10.244.0.0/16"}));
  EXPECT_EQ(r->mode, ProxyMode::kIptables);
  // minSyncPeriod: 0s must not mean "sync on every event".
  EXPECT_EQ(r->iptables.min_sync_period.count(), 1000);
  EXPECT_EQ(r->iptables.sync_period.count(), 30000);
  EXPECT_EQ(r->iptables.masquerade_bit, 14);
  EXPECT_EQ(r->healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(r->metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(r->conntrack.max_per_core, 32768);
  EXPECT_EQ(r->conntrack.tcp_established_timeout.count(), 24 * 3600 * 1000);
  EXPECT_EQ(r->oom_score_adj, -999);
  EXPECT_EQ(r->detect_local_mode, "ClusterCIDR");
}

TEST(RealFilesTest, KindConfigWithTheMetricsRecipeGetsThePort) {
  auto r = ParseConfigText(Read("kind-kube-proxy-config.yaml"), KpxConfig{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->metrics_bind_address, "0.0.0.0:10249");
  EXPECT_EQ(r->conntrack.max_per_core, 0);
  EXPECT_EQ(r->iptables.min_sync_period.count(), 1000);
  EXPECT_TRUE(ValidateConfig(*r).ok());
}

TEST(RealFilesTest, K3sCommandLineParses) {
  std::vector<std::string> args = {"kpx"};
  std::istringstream in(Read("k3s-kube-proxy-args.txt"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) args.push_back(line);
  }
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto r = ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.mode, ProxyMode::kIptables);
  EXPECT_EQ(r->config.healthz_bind_address, "127.0.0.1:10256");
  EXPECT_EQ(r->config.conntrack.max_per_core, 0);
  EXPECT_EQ(r->config.conntrack.tcp_established_timeout.count(), 0);
  EXPECT_EQ(r->config.hostname_override, "node-1");
  EXPECT_EQ(r->config.cluster_cidrs, (std::vector<std::string>{"10.42.0.0/16"}));
}

// The DaemonSet's command line, with only the binary replaced, parses to the file's settings.
TEST(RealFilesTest, KubeadmDaemonSetCommandLineParses) {
  const YAML::Node ds = YAML::Load(Read("kubeadm-kube-proxy-daemonset.yaml"));
  const YAML::Node command = ds["spec"]["template"]["spec"]["containers"][0]["command"];
  ASSERT_EQ(command[0].as<std::string>(), "/usr/local/bin/kube-proxy");
  EXPECT_EQ(command[1].as<std::string>(), "--config=/var/lib/kube-proxy/config.conf");
  std::vector<std::string> args = {"kpx"};
  for (size_t i = 1; i < command.size(); ++i) args.push_back(command[i].as<std::string>());
  // The kubelet expands $(NODE_NAME); the file itself is read by the swap test
  // (kpx_kubeadm_swap), which mounts it where the DaemonSet does.
  for (auto& a : args) {
    if (a == "--hostname-override=$(NODE_NAME)") a = "--hostname-override=node-1";
  }
  const std::string conf = DataPath("kind-kube-proxy-config.yaml");
  args[1] = "--config=" + conf;
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto r = ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.hostname_override, "node-1");
  EXPECT_EQ(r->config.metrics_bind_address, "0.0.0.0:10249");
}

}  // namespace
}  // namespace kpx
