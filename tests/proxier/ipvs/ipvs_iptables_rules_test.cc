#include "proxier/ipvs/ipvs_iptables_rules.h"

#include <gtest/gtest.h>

#include <sstream>

namespace kpx {
namespace {

Cidr Net(const char* s) { return *Cidr::Parse(s); }

// The KUBE-SERVICES rule that marks off-cluster traffic to cluster IPs for masquerading.
std::string ClusterIpMasqRule(const IpvsOptions& o, IpFamily f,
                              const std::vector<Cidr>& node_pod_cidrs = {}) {
  std::istringstream in(RenderIpvsIptables(o, f, node_pod_cidrs));
  for (std::string line; std::getline(in, line);) {
    if (line.find("cluster ip + port for masquerade purpose") != std::string::npos) {
      return line.substr(line.find("dst,dst ") + 8);
    }
  }
  return "";
}

// kube-proxy's IPVS proxier masquerades traffic to cluster IPs that its local detector says is
// not the cluster's own; every --detect-local-mode works here as in the iptables mode.
TEST(IpvsIptablesRulesTest, EveryDetectLocalModeMarksOffClusterTraffic) {
  IpvsOptions o;
  o.families = {IpFamily::kIPv4, IpFamily::kIPv6};
  o.cluster_cidrs = {Net("10.244.0.0/16")};
  EXPECT_EQ(ClusterIpMasqRule(o, IpFamily::kIPv4), "! -s 10.244.0.0/16 -j KUBE-MARK-MASQ");
  EXPECT_EQ(ClusterIpMasqRule(o, IpFamily::kIPv6), "");  // no IPv6 cluster CIDR
  o.local_detect = LocalDetectMode::kNodeCidr;
  EXPECT_EQ(ClusterIpMasqRule(o, IpFamily::kIPv4, {Net("10.244.7.0/24")}),
            "! -s 10.244.7.0/24 -j KUBE-MARK-MASQ");
  o.local_detect = LocalDetectMode::kBridgeInterface;
  o.local_interface = "cbr0";
  EXPECT_EQ(ClusterIpMasqRule(o, IpFamily::kIPv6), "! -i cbr0 -j KUBE-MARK-MASQ");
  o.local_detect = LocalDetectMode::kInterfaceNamePrefix;
  o.local_interface = "veth";
  EXPECT_EQ(ClusterIpMasqRule(o, IpFamily::kIPv4), "! -i veth+ -j KUBE-MARK-MASQ");
  o.masquerade_all = true;
  EXPECT_EQ(ClusterIpMasqRule(o, IpFamily::kIPv4), "-j KUBE-MARK-MASQ");
}

}  // namespace
}  // namespace kpx
