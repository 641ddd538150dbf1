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

// The rules of one chain in a rendered text ("-A CHAIN " removed), in order.
std::vector<std::string> ChainRules(const std::string& text, const std::string& chain) {
  std::vector<std::string> out;
  std::istringstream in(text);
  const std::string prefix = "-A " + chain + " ";
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

IpsetPresence Present(std::initializer_list<const char*> sets, IpFamily f) {
  IpsetPresence out;
  for (const char* set : sets) out.set(IpsetEntrySet(set, f));
  return out;
}

// A rule matching an empty set cannot match, but the first packet of every connection would
// still pay its lookup (and the NodePort jump a route lookup): none is written.
TEST(IpvsIptablesRulesTest, EmptySetsGetNoRules) {
  IpvsOptions o;
  o.cluster_cidrs = {Net("10.244.0.0/16")};
  const std::string text = RenderIpvsIptables(o, IpFamily::kIPv4, {}, IpsetPresence());
  EXPECT_EQ(text.find("--match-set"), std::string::npos) << text;
  EXPECT_EQ(text.find("addrtype"), std::string::npos) << text;
  EXPECT_TRUE(ChainRules(text, "KUBE-SERVICES").empty());
  // What marked traffic needs stays: the masquerade itself and the forwarding accepts.
  EXPECT_EQ(ChainRules(text, "KUBE-POSTROUTING").size(), 3u);
  EXPECT_EQ(ChainRules(text, "KUBE-MARK-MASQ").size(), 1u);
  EXPECT_EQ(ChainRules(text, "KUBE-FORWARD").size(), 2u);
  // Every chain is still declared, so a restore flushes rules written when a set had entries.
  EXPECT_NE(text.find(":KUBE-NODE-PORT - [0:0]"), std::string::npos);
  EXPECT_NE(text.find(":KUBE-SOURCE-RANGES-FIREWALL - [0:0]"), std::string::npos);
}

// Cluster IPs sit on the dummy device, so they are local addresses: their traffic is accepted
// before the NodePort jump, whose route and set lookups it would otherwise pay, and which would
// mark it for masquerading whenever its port is also some Service's NodePort.
TEST(IpvsIptablesRulesTest, ClusterIpTrafficIsAcceptedBeforeTheNodePortJump) {
  IpvsOptions o;
  o.cluster_cidrs = {Net("10.244.0.0/16")};
  const std::string text = RenderIpvsIptables(
      o, IpFamily::kIPv4, {}, Present({kClusterIpSet, kNodePortTcpSet}, IpFamily::kIPv4));
  EXPECT_EQ(ChainRules(text, "KUBE-SERVICES"),
            (std::vector<std::string>{
                "-m comment --comment \"Kubernetes service cluster ip + port for masquerade "
                "purpose\" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j "
                "KUBE-MARK-MASQ",
                "-m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT",
                "-m addrtype --dst-type LOCAL -j KUBE-NODE-PORT",
            }));
  EXPECT_EQ(ChainRules(text, "KUBE-NODE-PORT"),
            (std::vector<std::string>{
                "-p tcp -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ"}));
}

// With every set holding entries, every rule is there, in each family's set names.
TEST(IpvsIptablesRulesTest, EverySetWithEntriesGetsItsRules) {
  IpvsOptions o;
  for (IpFamily f : kIpFamilies) {
    const std::string text = RenderIpvsIptables(o, f);
    const std::pair<const char*, const char*> matches[] = {
        {kLoopBackSet, "dst,dst,src"},
        {kExternalIpLocalSet, "dst,dst"},
        {kExternalIpSet, "dst,dst"},
        {kLoadBalancerSet, "dst,dst"},
        {kLoadBalancerLocalSet, "dst,dst"},
        {kLoadBalancerFwSet, "dst,dst"},
        {kLoadBalancerSourceCidrSet, "dst,dst,src"},
        {kNodePortTcpSet, "dst"},
        {kNodePortLocalUdpSet, "dst"},
        {kNodePortSctpSet, "dst,dst"},
        {kClusterIpSet, "dst,dst -j ACCEPT"},
    };
    for (const auto& [set, rest] : matches) {
      const std::string match = "--match-set " + IpsetName(set, f) + " " + rest;
      EXPECT_NE(text.find(match), std::string::npos) << match;
    }
    EXPECT_EQ(ChainRules(text, "KUBE-NODE-PORT").size(), 6u);
    EXPECT_EQ(ChainRules(text, "KUBE-SOURCE-RANGES-FIREWALL").size(), 2u);
  }
}

}  // namespace
}  // namespace kpx
