#include "cmd/command_line.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace kpx {
namespace {

class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kpx-cmdline-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/config.conf";
    std::ofstream(path_) << "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                            "kind: KubeProxyConfiguration\n"
                            "mode: ipvs\n"
                            "clusterCIDR: 10.244.0.0/16\n"
                            "iptables:\n  syncPeriod: 45s\n  masqueradeAll: true\n";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  Result<CommandLine> Parse(std::vector<const char*> args) {
    args.insert(args.begin(), "kpx");
    return ParseCommandLine(static_cast<int>(args.size()), args.data());
  }

  std::string dir_;
  std::string path_;
};

TEST_F(CommandLineTest, FlagsOverrideTheFileWhichOverridesDefaults) {
  const std::string config = "--config=" + path_;
  auto r = Parse({config.c_str(), "--mode=iptables", "--iptables-sync-period=10s"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.mode, "iptables");                        // flag over file
  EXPECT_EQ(r->config.iptables.sync_period.count(), 10000);     // flag over file
  EXPECT_TRUE(r->config.iptables.masquerade_all);               // file over default
  EXPECT_EQ(r->config.cluster_cidrs.front(), "10.244.0.0/16");  // file over default
  EXPECT_EQ(r->config.iptables.min_sync_period.count(), 1000);  // default
}

TEST_F(CommandLineTest, FlagOrderDoesNotMatter) {
  const std::string config = "--config=" + path_;
  auto r = Parse({"--mode=iptables", config.c_str()});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->config.mode, "iptables");
}

TEST_F(CommandLineTest, ErrorsAreClearAndNameTheSource) {
  EXPECT_EQ(Parse({"--mode=bogus"}).status().message(),
            "invalid configuration: mode: unknown proxy mode \"bogus\" (want iptables, ipvs, "
            "nftables or userspace)");
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
  auto r = Parse({"--help", "--mode=bogus"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
  EXPECT_NE(r->usage.find("--kubeconfig value"), std::string::npos);
}

}  // namespace
}  // namespace kpx
