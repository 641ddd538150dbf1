// LibipsetIpset against the kernel's ip_set, each test in a network namespace of its own (ipsets
// are per namespace): the calling thread enters it, so libipset's socket talks to that namespace's
// sets. The ipset(8) binary, run in the same namespace, is the independent witness of what the
// kernel holds.
#include "proxier/netfilter/libipset_ipset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "proxier/ipvs/ipvs_ipsets.h"
#include "tests/support/command.h"
#include "tests/support/in_netns.h"
#include "tests/support/netns.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::CommandOutput;
using ::testing::HasSubstr;
using testing::InNetns;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using ::testing::Not;
using testing::StateBuilderForTest;
using testing::Svc;
using testing::TestNetns;

// IP plan: services 10.96.0.0/16, pods 10.244.0.0/16 (and fd00:244::/64), external and load
// balancer addresses 203.0.113.0/24, clients 198.51.100.0/24.
class LibipsetIpsetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = TestNetns::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    const Status added = netns_.Add("ipset");
    ASSERT_TRUE(added.ok()) << added.message();
    in_.emplace(netns_.Name("ipset"));
    auto opened = LibipsetIpset::Open();
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    ipset_ = std::move(opened).value();
  }
  void TearDown() override { in_.reset(); }

  // The ipset binary, inside the test's namespace.
  std::string Binary(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"ip", "netns", "exec", netns_.Name("ipset"), "ipset"};
    argv.insert(argv.end(), args.begin(), args.end());
    return CommandOutput(argv);
  }
  // Whether the kernel holds `entry` in `set`, asked through the binary ("ipset test" fails on
  // an absent entry).
  bool KernelHas(const std::string& set, const std::string& entry) {
    return netns_.Exec("ipset", {"ipset", "-q", "test", set, entry}).ok();
  }
  IpsetMap KernelSets() { return ParseIpsetSave(Binary({"save"})); }

  TestNetns netns_{"kpx-ipset"};
  std::optional<InNetns> in_;
  std::unique_ptr<LibipsetIpset> ipset_;
};

TEST_F(LibipsetIpsetTest, RestoreCreatesAddsDeletesFlushesAndDestroys) {
  Status st = ipset_->Restore(
      "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n"
      "add KUBE-CLUSTER-IP 10.96.0.1,tcp:80\n"
      "add KUBE-CLUSTER-IP 10.96.0.2,udp:53\n"
      "add KUBE-CLUSTER-IP 10.96.0.3,tcp:443\n"
      "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535\n"
      "add KUBE-NODE-PORT-TCP 30080\n");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(KernelHas("KUBE-CLUSTER-IP", "10.96.0.2,udp:53"));
  EXPECT_TRUE(KernelHas("KUBE-NODE-PORT-TCP", "30080"));

  st = ipset_->Restore("del KUBE-CLUSTER-IP 10.96.0.2,udp:53\n");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(KernelHas("KUBE-CLUSTER-IP", "10.96.0.2,udp:53"));
  EXPECT_TRUE(KernelHas("KUBE-CLUSTER-IP", "10.96.0.1,tcp:80"));

  st = ipset_->Restore("flush KUBE-CLUSTER-IP\n");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_FALSE(KernelHas("KUBE-CLUSTER-IP", "10.96.0.1,tcp:80"));
  EXPECT_EQ(KernelSets()["KUBE-CLUSTER-IP"].type, "hash:ip,port") << "flushed, not destroyed";

  st = ipset_->Restore("destroy KUBE-CLUSTER-IP\n");
  ASSERT_TRUE(st.ok()) << st.message();
  const IpsetMap left = KernelSets();
  EXPECT_EQ(left.count("KUBE-CLUSTER-IP"), 0u);
  EXPECT_EQ(left.count("KUBE-NODE-PORT-TCP"), 1u);
}

TEST_F(LibipsetIpsetTest, ExistSemanticsLikeRestoreDashExist) {
  const std::string create = "create KUBE-LOOP-BACK hash:ip,port,ip family inet\n";
  ASSERT_TRUE(ipset_->Restore(create + "add KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5\n").ok());
  // The same create again, an entry already there, an entry that never was.
  const Status st = ipset_->Restore(create +
                                    "add KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5\n"
                                    "del KUBE-LOOP-BACK 10.244.9.9,tcp:8080,10.244.9.9\n"
                                    "add KUBE-LOOP-BACK 10.244.1.6,udp:53,10.244.1.6\n");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(
      KernelSets()["KUBE-LOOP-BACK"].entries,
      (std::set<std::string>{"10.244.1.5,tcp:8080,10.244.1.5", "10.244.1.6,udp:53,10.244.1.6"}))
      << "the set was kept, not re-created empty";

  // -exist does not cover another type under the same name: the kernel refuses, and says so.
  const Status other = ipset_->Restore("create KUBE-LOOP-BACK hash:ip\n");
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.message(), HasSubstr("line 1 (`create KUBE-LOOP-BACK hash:ip`)"));
  EXPECT_THAT(other.message(), HasSubstr("already exists"));
  EXPECT_THAT(other.message(), Not(HasSubstr(";"))) << "one failure, reported once";
  EXPECT_EQ(KernelSets()["KUBE-LOOP-BACK"].type, "hash:ip,port,ip");
}

TEST_F(LibipsetIpsetTest, SaveOfRenderedSetsRoundTripsThroughParseIpsetSave) {
  // Every kind of set kpx renders, both families, filled from a state as the dataplane does.
  StateBuilderForTest builder;
  builder.Add(Svc("default", "web", "", Protocol::kTCP, 80, "10.96.0.10,fd00:96::10",
                  [](ServicePortInfo& i) {
                    i.node_port = 30080;
                    i.external_ips = {Ip("203.0.113.7")};
                    i.load_balancer_ips = {Ip("203.0.113.8")};
                    i.load_balancer_source_ranges = {Net("198.51.100.0/24")};
                    i.external_policy = TrafficPolicy::kLocal;
                  }),
              {LocalEp("10.244.1.5", 8080), LocalEp("fd00:244::5", 8080)});
  builder.Add(Svc("kube-system", "dns", "", Protocol::kUDP, 53, "10.96.0.53"),
              {LocalEp("10.244.1.7", 5353)});
  const DesiredState state = builder.Build();
  IpsetMap want;
  std::string text;
  for (IpFamily f : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    const IpsetMap family = RenderIpsets(state, f);
    text += IpsetRestoreText(family, {});
    want.insert(family.begin(), family.end());
  }
  const Status st = ipset_->Restore(text);
  ASSERT_TRUE(st.ok()) << st.message();

  auto saved = ipset_->Save();
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  const IpsetMap have = ParseIpsetSave(*saved);
  ASSERT_EQ(have.size(), want.size());
  for (const auto& [name, set] : want) {
    ASSERT_EQ(have.count(name), 1u) << name;
    EXPECT_EQ(have.at(name).type, set.type) << name;
    EXPECT_EQ(have.at(name).entries, set.entries) << name;
  }
  EXPECT_THAT(have.at("KUBE-6-LOOP-BACK").entries,
              ::testing::Contains("fd00:244::5,tcp:8080,fd00:244::5"));
  EXPECT_EQ(have, KernelSets()) << "the same sets and entries the ipset binary saves";
  // Nothing left to do: the dataplane's full-sync diff comes out empty.
  EXPECT_EQ(IpsetRestoreText(want, have), "");
}

TEST_F(LibipsetIpsetTest, FailingParseLineStopsThereAndKeepsEveryEarlierLine) {
  const Status st = ipset_->Restore(
      "create KUBE-CLUSTER-IP hash:ip,port\n"
      "add KUBE-CLUSTER-IP 10.96.0.1,tcp:80\n"
      "add KUBE-CLUSTER-IP 10.96.0.2,tcp:80\n"
      "frobnicate KUBE-CLUSTER-IP\n"
      "add KUBE-CLUSTER-IP 10.96.0.3,tcp:80\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("line 4 (`frobnicate KUBE-CLUSTER-IP`)"));
  EXPECT_THAT(st.message(), HasSubstr("frobnicate"));
  // The two adds were still batched when line 4 failed; they are applied all the same.
  EXPECT_TRUE(KernelHas("KUBE-CLUSTER-IP", "10.96.0.1,tcp:80"));
  EXPECT_TRUE(KernelHas("KUBE-CLUSTER-IP", "10.96.0.2,tcp:80"));
  EXPECT_FALSE(KernelHas("KUBE-CLUSTER-IP", "10.96.0.3,tcp:80")) << "nothing after the bad line";
}

TEST_F(LibipsetIpsetTest, KernelErrorInsideABatchNamesItsLineAndStopsThere) {
  ASSERT_TRUE(ipset_->Restore("create KUBE-NODE-PORT-TCP bitmap:port range 30000-32767\n").ok());
  // One batch of adds to one set; the kernel refuses the third (outside the bitmap's range).
  const Status st = ipset_->Restore(
      "add KUBE-NODE-PORT-TCP 30001\n"
      "add KUBE-NODE-PORT-TCP 30002\n"
      "add KUBE-NODE-PORT-TCP 40000\n"
      "add KUBE-NODE-PORT-TCP 30004\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("line 3 (`add KUBE-NODE-PORT-TCP 40000`)"));
  EXPECT_TRUE(KernelHas("KUBE-NODE-PORT-TCP", "30001"));
  EXPECT_TRUE(KernelHas("KUBE-NODE-PORT-TCP", "30002"));
  EXPECT_FALSE(KernelHas("KUBE-NODE-PORT-TCP", "30004"));

  // A line naming a set that does not exist, after adds batched for another set.
  const Status missing = ipset_->Restore(
      "add KUBE-NODE-PORT-TCP 30005\n"
      "add KUBE-NODE-PORT-UDP 30053\n"
      "add KUBE-NODE-PORT-TCP 30006\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("line 2 (`add KUBE-NODE-PORT-UDP 30053`)"));
  EXPECT_THAT(missing.message(), HasSubstr("does not exist"));
  EXPECT_TRUE(KernelHas("KUBE-NODE-PORT-TCP", "30005"));
  EXPECT_FALSE(KernelHas("KUBE-NODE-PORT-TCP", "30006"));
}

TEST_F(LibipsetIpsetTest, DestroyToleratesAMissingSetAndRefusesAReferencedOne) {
  Status st = ipset_->Destroy("KUBE-LOAD-BALANCER");
  EXPECT_TRUE(st.ok()) << st.message();

  ASSERT_TRUE(ipset_->Restore("create KUBE-LOAD-BALANCER hash:ip,port\n").ok());
  // An iptables rule matching the set holds a kernel reference on it.
  st = netns_.Exec("ipset", {"iptables-legacy", "-w", "5", "-A", "OUTPUT", "-m", "set",
                             "--match-set", "KUBE-LOAD-BALANCER", "dst,dst", "-j", "ACCEPT"});
  ASSERT_TRUE(st.ok()) << st.message();
  st = ipset_->Destroy("KUBE-LOAD-BALANCER");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("KUBE-LOAD-BALANCER"));
  EXPECT_THAT(st.message(), HasSubstr("in use"));
  EXPECT_EQ(KernelSets().count("KUBE-LOAD-BALANCER"), 1u);

  st = netns_.Exec("ipset", {"iptables-legacy", "-w", "5", "-F", "OUTPUT"});
  ASSERT_TRUE(st.ok()) << st.message();
  st = ipset_->Destroy("KUBE-LOAD-BALANCER");
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(KernelSets().count("KUBE-LOAD-BALANCER"), 0u);
}

TEST_F(LibipsetIpsetTest, AppliesAndSavesAHundredThousandEntries) {
  constexpr int kEntries = 100000;
  std::string text = "create KUBE-LOOP-BACK hash:ip,port,ip family inet maxelem 262144\n";
  std::set<std::string> want;
  for (int i = 0; i < kEntries; ++i) {
    const std::string ip = "10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) +
                           "." + std::to_string(i & 255);
    want.insert(ip + ",tcp:8080," + ip);
    text += "add KUBE-LOOP-BACK " + ip + ",tcp:8080," + ip + "\n";
  }
  const Status st = ipset_->Restore(text);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_THAT(Binary({"list", "-t", "KUBE-LOOP-BACK"}), HasSubstr("Number of entries: 100000"));

  auto saved = ipset_->Save();
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  EXPECT_EQ(ParseIpsetSave(*saved)["KUBE-LOOP-BACK"].entries, want);
}

// libipset caches set name -> type for the whole process: a set re-created with another type
// behind kpx's back (or under the same name in another namespace) must not be parsed as the old
// type by the next call.
TEST_F(LibipsetIpsetTest, NoSetTypeIsRememberedBetweenCalls) {
  ASSERT_TRUE(
      ipset_->Restore("create KUBE-EXTERNAL-IP hash:ip\nadd KUBE-EXTERNAL-IP 203.0.113.7\n").ok());
  Status st = netns_.Exec("ipset", {"ipset", "destroy", "KUBE-EXTERNAL-IP"});
  ASSERT_TRUE(st.ok()) << st.message();
  st = netns_.Exec("ipset", {"ipset", "create", "KUBE-EXTERNAL-IP", "hash:ip,port"});
  ASSERT_TRUE(st.ok()) << st.message();
  st = ipset_->Restore("add KUBE-EXTERNAL-IP 203.0.113.7,tcp:443\n");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(KernelHas("KUBE-EXTERNAL-IP", "203.0.113.7,tcp:443"));

  // Two namespaces, one set name, two types, used from two threads at once.
  ASSERT_TRUE(netns_.Add("other").ok());
  std::thread other([&] {
    InNetns in(netns_.Name("other"));
    for (int i = 0; i < 50; ++i) {
      const Status s = ipset_->Restore(
          "create KUBE-EXTERNAL-IP bitmap:port range 0-65535\n"
          "add KUBE-EXTERNAL-IP " +
          std::to_string(30000 + i) + "\n");
      ASSERT_TRUE(s.ok()) << s.message();
    }
  });
  for (int i = 0; i < 50; ++i) {
    st = ipset_->Restore("add KUBE-EXTERNAL-IP 203.0.113." + std::to_string(i) + ",udp:53\n");
    ASSERT_TRUE(st.ok()) << st.message();
  }
  other.join();
  EXPECT_EQ(KernelSets()["KUBE-EXTERNAL-IP"].entries.size(), 51u);
  EXPECT_THAT(CommandOutput({"ip", "netns", "exec", netns_.Name("other"), "ipset", "list", "-t",
                             "KUBE-EXTERNAL-IP"}),
              HasSubstr("Number of entries: 50"));
}

TEST_F(LibipsetIpsetTest, EmptyRestoreTouchesNothing) {
  EXPECT_TRUE(ipset_->Restore("").ok());
  EXPECT_TRUE(ipset_->Restore("# a comment\n\n").ok());
  auto saved = ipset_->Save();
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  EXPECT_THAT(*saved, Not(HasSubstr("create")));
}

}  // namespace
}  // namespace kpx
