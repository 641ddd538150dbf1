#include "proxier/iptables/iptables_dataplane.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proxier/iptables/chain_names.h"
#include "proxier/netfilter/fake_conntrack.h"
#include "proxier/netfilter/fake_iptables_runner.h"
#include "tests/proxier/iptables/packet_tracer.h"
#include "tests/support/random_changes.h"
#include "tests/support/sanitizers.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using ::testing::HasSubstr;
using testing::Ip;
using testing::Net;
using ::testing::Not;
using testing::PacketTracer;
using testing::RandomChanges;
using testing::StateBuilderForTest;
using testing::Svc;
using testing::TracePacket;

// IP plan: node 192.168.0.2, pods 10.0.0.0/8, services 172.30.0.0/16.
const ServicePortName kA{"ns", "a", "", Protocol::kTCP};
const ServicePortName kB{"ns", "b", "", Protocol::kTCP};
const ServicePortName kDns{"ns", "dns", "", Protocol::kUDP};

class DataplaneTest : public ::testing::Test {
 protected:
  // Most cases ask for full syncs and mean it; kube-proxy's hourly full resync is the default
  // the periodic cases below ask for.
  DataplaneTest() { Make(std::chrono::milliseconds(0)); }

  void Make(std::chrono::milliseconds full_sync_period) {
    IptablesOptions o;
    o.localhost_nodeports = true;  // kube-proxy's default, for its rules
    o.cluster_cidrs = {Net("10.0.0.0/8")};
    o.full_sync_period = full_sync_period;
    auto fake = std::make_unique<FakeIptablesRunner>();
    fake_ = fake.get();
    auto ct = std::make_unique<FakeConntrack>();
    conntrack_ = ct.get();
    dataplane_ = std::make_unique<IptablesDataplane>(o, std::move(fake), std::move(ct), [this] {
      now_ += std::chrono::milliseconds(5);
      return now_;
    });
    builder_.Node([](NodeState& n) { n.addresses = {Ip("192.168.0.2")}; });
  }

  void AddA(std::vector<EndpointInfo> eps = {Ep("10.180.0.1", 80)}) {
    builder_.Add(Svc("ns", "a", "", Protocol::kTCP, 80, "172.30.0.1"), eps);
  }
  void AddB(std::vector<EndpointInfo> eps = {Ep("10.180.0.2", 80)}) {
    builder_.Add(Svc("ns", "b", "", Protocol::kTCP, 80, "172.30.0.2"), eps);
  }
  Status Sync(bool full = false) { return dataplane_->Apply(builder_.Build(), full); }

  std::map<std::string, double> Trace(const std::string& dst) {
    TracePacket p;
    p.src = Ip("10.0.5.5");
    p.dst = Ip(dst);
    p.dport = 80;
    return PacketTracer(*fake_, IpFamily::kIPv4, {Ip("192.168.0.2")}).Summary(p);
  }
  std::string LastRestore() const { return fake_->restores(IpFamily::kIPv4).back(); }
  bool HasNatChain(const std::string& c) const {
    return fake_->GetChain(IpFamily::kIPv4, "nat", c) != nullptr;
  }

  std::chrono::steady_clock::time_point now_{};
  StateBuilderForTest builder_{"node-a"};
  FakeIptablesRunner* fake_;
  FakeConntrack* conntrack_;
  std::unique_ptr<IptablesDataplane> dataplane_;
};

TEST_F(DataplaneTest, FirstSyncIsFullAndJumpsAreNotDuplicated) {
  AddA();
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(dataplane_->counters().full_syncs, 2u);  // one per family
  ASSERT_TRUE(Sync(/*full=*/true).ok());
  ASSERT_TRUE(Sync(/*full=*/true).ok());
  EXPECT_EQ(fake_->RuleLines(IpFamily::kIPv4, "nat", "PREROUTING").size(), 1u);
  EXPECT_EQ(fake_->RuleLines(IpFamily::kIPv4, "filter", "FORWARD").size(), 4u);
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"10.180.0.1:80", 1}}));
  // The IPv6 ruleset exists too, without any IPv4-only service in it.
  EXPECT_EQ(fake_->GetChain(IpFamily::kIPv6, "nat", ServiceChain(kA)), nullptr);
  EXPECT_NE(fake_->GetChain(IpFamily::kIPv6, "nat", "KUBE-SERVICES"), nullptr);
}

// The family holding the most goes last, where the counters hand-over a whole-table runner makes
// after its restore delays nothing else in the sync: by endpoints on the first sync, by rules
// rendered after it; configured order on a tie.
TEST_F(DataplaneTest, TheLargerFamilyIsAppliedLast) {
  using F = IpFamily;
  size_t seen = 0;
  auto order = [&] {  // of the restores since the last call
    std::vector<F> out;
    const std::vector<F>& all = fake_->restore_families();
    for (size_t i = seen; i < all.size(); ++i) {
      if (out.empty() || out.back() != all[i]) out.push_back(all[i]);
    }
    seen = all.size();
    return out;
  };
  ASSERT_TRUE(Sync().ok());  // nothing at all: a tie
  EXPECT_EQ(order(), (std::vector<F>{F::kIPv4, F::kIPv6}));
  Make(std::chrono::milliseconds(0));
  seen = 0;
  AddA();
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(order(), (std::vector<F>{F::kIPv6, F::kIPv4}));
  Make(std::chrono::milliseconds(0));
  seen = 0;
  builder_.Remove(kA);
  builder_.Add(Svc("ns", "c", "", Protocol::kTCP, 80, "fd00:30::1"),
               {Ep("fd00:180::1", 80), Ep("fd00:180::2", 80)});
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(order(), (std::vector<F>{F::kIPv4, F::kIPv6}));
  // After the first sync, by rules: still IPv6 last while it holds more.
  ASSERT_TRUE(Sync(/*full=*/true).ok());
  EXPECT_EQ(order(), (std::vector<F>{F::kIPv4, F::kIPv6}));
}

TEST_F(DataplaneTest, PartialSyncRewritesOnlyTheChangedService) {
  AddA();
  AddB();
  ASSERT_TRUE(Sync().ok());
  AddB({Ep("10.180.0.2", 80), Ep("10.180.0.3", 80)});
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(dataplane_->counters().partial_syncs, 1u);  // IPv6 had nothing new: skipped
  const std::string text = LastRestore();
  EXPECT_THAT(text, HasSubstr(":" + ServiceChain(kB) + " - [0:0]"));
  EXPECT_THAT(text, Not(HasSubstr(":" + ServiceChain(kA))));
  EXPECT_THAT(text, Not(HasSubstr("-A " + ServiceChain(kA))));
  // b's dispatch rule is the same, so no top-level chain (nor the filter table) is written.
  EXPECT_THAT(text, Not(HasSubstr(":KUBE-SERVICES")));
  EXPECT_THAT(text, Not(HasSubstr("*filter")));
  // a's chains were kept by --noflush and still work.
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"10.180.0.1:80", 1}}));
  EXPECT_EQ(Trace("172.30.0.2"),
            (std::map<std::string, double>{{"10.180.0.2:80", 0.5}, {"10.180.0.3:80", 0.5}}));
}

TEST_F(DataplaneTest, StaleChainsAreDeletedButForeignOnesKept) {
  AddA();
  AddB({Ep("10.180.0.2", 80), Ep("10.180.0.3", 80)});
  ASSERT_TRUE(Sync().ok());
  const std::string sep = EndpointChain(kB, Ep("10.180.0.3", 80));
  ASSERT_TRUE(HasNatChain(sep));
  AddB();  // endpoint 10.180.0.3 removed
  ASSERT_TRUE(Sync().ok());
  EXPECT_FALSE(HasNatChain(sep));
  builder_.Remove(kB);
  ASSERT_TRUE(Sync().ok());
  EXPECT_FALSE(HasNatChain(ServiceChain(kB)));
  EXPECT_EQ(Trace("172.30.0.2"), (std::map<std::string, double>{{"ACCEPT", 1}}));
  // Leftovers from an earlier run are found by the next full sync; foreign chains survive.
  ASSERT_TRUE(fake_
                  ->Restore(IpFamily::kIPv4,
                            "*nat\n:KUBE-SVC-LEFTOVER00000 - [0:0]\n:MY-CHAIN - [0:0]\n"
                            "-A MY-CHAIN -j RETURN\nCOMMIT\n")
                  .ok());
  ASSERT_TRUE(Sync(/*full=*/true).ok());
  EXPECT_FALSE(HasNatChain("KUBE-SVC-LEFTOVER00000"));
  EXPECT_TRUE(HasNatChain("MY-CHAIN"));
  EXPECT_EQ(dataplane_->counters().stale_chains_deleted, 4u);  // SEP, SVC, SEP, LEFTOVER
}

TEST_F(DataplaneTest, IdenticalRenderingSkipsTheKernel) {
  AddA();
  ASSERT_TRUE(Sync().ok());
  const int restores = fake_->restore_calls();
  AddA();  // "changed" but renders the same bytes
  ASSERT_TRUE(Sync().ok());
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(fake_->restore_calls(), restores);
  EXPECT_EQ(dataplane_->counters().skipped_syncs, 4u);
  // A full sync is a repair request: it is never skipped (canary and rules, per family).
  ASSERT_TRUE(Sync(/*full=*/true).ok());
  EXPECT_EQ(fake_->restore_calls(), restores + 4);
}

TEST_F(DataplaneTest, FailureMakesTheNextSyncFullAndRepairsDrift) {
  AddA();
  AddB();
  ASSERT_TRUE(Sync().ok());
  fake_->FailNextRestores(1);
  AddB({Ep("10.180.0.9", 80)});
  EXPECT_FALSE(Sync().ok());
  EXPECT_EQ(dataplane_->counters().restore_failures, 1u);
  // Nothing that worked was torn down.
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"10.180.0.1:80", 1}}));
  // Someone flushes a's chain; the retry (a partial request) is promoted to full and fixes it.
  fake_->FlushChain(IpFamily::kIPv4, "nat", ServiceChain(kA));
  const int ensures = fake_->ensure_calls();
  ASSERT_TRUE(Sync().ok());
  EXPECT_GT(fake_->ensure_calls(), ensures);
  EXPECT_THAT(LastRestore(), HasSubstr(":" + ServiceChain(kA) + " - [0:0]"));
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"10.180.0.1:80", 1}}));
  EXPECT_EQ(Trace("172.30.0.2"), (std::map<std::string, double>{{"10.180.0.9:80", 1}}));
}

TEST_F(DataplaneTest, CleanupRestoresExactlyWhatWasThere) {
  ASSERT_TRUE(
      fake_->AppendRule(IpFamily::kIPv4, "nat", "PREROUTING", {"-s", "1.1.1.1", "-j", "ACCEPT"})
          .ok());
  ASSERT_TRUE(
      fake_->Restore(IpFamily::kIPv4, "*filter\n:OTHER - [0:0]\n-A OTHER -j DROP\nCOMMIT\n").ok());
  std::vector<std::string> before;
  for (IpFamily f : kIpFamilies) {
    for (const char* t : {"nat", "filter"}) before.push_back(fake_->Save(f, t).value());
  }
  AddA();
  AddB({});
  ASSERT_TRUE(Sync().ok());
  ASSERT_TRUE(dataplane_->Cleanup().ok());
  std::vector<std::string> after;
  for (IpFamily f : kIpFamilies) {
    for (const char* t : {"nat", "filter"}) after.push_back(fake_->Save(f, t).value());
  }
  EXPECT_EQ(before, after);
  // And the dataplane starts from scratch afterwards.
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"10.180.0.1:80", 1}}));
}

TEST_F(DataplaneTest, UdpConntrackCleanup) {
  auto dns = [](ServicePortInfo& s) { s.node_port = 30053; };
  builder_.Add(Svc("ns", "dns", "", Protocol::kUDP, 53, "172.30.0.53", dns), {});
  ASSERT_TRUE(Sync().ok());
  EXPECT_TRUE(conntrack_->deleted().empty());
  // First endpoint: flush entries to the service IP and NodePort.
  builder_.Add(Svc("ns", "dns", "", Protocol::kUDP, 53, "172.30.0.53", dns),
               {Ep("10.180.0.1", 53), Ep("10.180.0.2", 53)});
  ASSERT_TRUE(Sync().ok());
  ASSERT_EQ(conntrack_->deleted().size(), 2u);
  EXPECT_EQ(conntrack_->deleted()[0].ToString(), "IPv4 udp orig-dst=172.30.0.53");
  EXPECT_EQ(conntrack_->deleted()[1].ToString(), "IPv4 udp orig-port-dst=30053");
  conntrack_->Clear();
  // Endpoint removed: flush entries DNATed to it.
  builder_.Add(Svc("ns", "dns", "", Protocol::kUDP, 53, "172.30.0.53", dns),
               {Ep("10.180.0.1", 53)});
  ASSERT_TRUE(Sync().ok());
  ASSERT_EQ(conntrack_->deleted().size(), 2u);
  EXPECT_EQ(conntrack_->deleted()[0].ToString(),
            "IPv4 udp orig-dst=172.30.0.53 dst-nat=10.180.0.2");
  EXPECT_EQ(conntrack_->deleted()[1].ToString(), "IPv4 udp orig-port-dst=30053 dst-nat=10.180.0.2");
  conntrack_->Clear();
  // TCP services never need it; unchanged UDP services are not looked at.
  AddA({Ep("10.180.0.1", 80)});
  ASSERT_TRUE(Sync().ok());
  AddA({});
  ASSERT_TRUE(Sync().ok());
  EXPECT_TRUE(conntrack_->deleted().empty());
}

TEST_F(DataplaneTest, PeriodicResyncIsPartialWhileTheCanaryLives) {
  Make(std::chrono::hours(1));
  AddA();
  ASSERT_TRUE(Sync().ok());
  EXPECT_NE(fake_->GetChain(IpFamily::kIPv4, "mangle", "KUBE-PROXY-CANARY"), nullptr);
  EXPECT_NE(fake_->GetChain(IpFamily::kIPv6, "mangle", "KUBE-PROXY-CANARY"), nullptr);
  const int restores = fake_->restore_calls();
  const int saves = fake_->save_calls();
  ASSERT_TRUE(Sync(/*full=*/true).ok());             // the periodic resync, 30 s later
  EXPECT_EQ(dataplane_->counters().full_syncs, 2u);  // the first sync's, one per family
  EXPECT_EQ(fake_->restore_calls(), restores);       // nothing changed: nothing written
  EXPECT_EQ(fake_->save_calls(), saves + 2);         // one look at mangle per family
  // A drifted service chain is not noticed (as in kube-proxy) until the hourly full resync.
  fake_->FlushChain(IpFamily::kIPv4, "nat", ServiceChain(kA));
  ASSERT_TRUE(Sync(true).ok());
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"ACCEPT", 1}}));
  now_ += std::chrono::hours(1);
  ASSERT_TRUE(Sync(true).ok());
  EXPECT_EQ(dataplane_->counters().full_syncs, 4u);
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"10.180.0.1:80", 1}}));
  EXPECT_EQ(dataplane_->counters().canary_missing, 0u);
}

TEST_F(DataplaneTest, FlushedTablesAreRepairedOnTheNextPeriodicResync) {
  Make(std::chrono::hours(1));
  AddA();
  AddB();
  ASSERT_TRUE(Sync().ok());
  // A firewall reload: every table of IPv4 flushed, jumps and canary gone.
  for (const char* t : {"nat", "filter", "mangle"}) fake_->FlushTable(IpFamily::kIPv4, t);
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"ACCEPT", 1}}));
  // An event-driven sync trusts its cache and does not look at the kernel...
  const int saves = fake_->save_calls();
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(fake_->save_calls(), saves);
  // ...the next periodic one checks the canary and repairs everything.
  ASSERT_TRUE(Sync(/*full=*/true).ok());
  EXPECT_EQ(dataplane_->counters().canary_missing, 1u);
  EXPECT_EQ(dataplane_->counters().full_syncs, 3u);  // 2 first, 1 repair (IPv6 stayed partial)
  EXPECT_EQ(Trace("172.30.0.1"), (std::map<std::string, double>{{"10.180.0.1:80", 1}}));
  AddB({Ep("10.180.0.7", 80)});
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Trace("172.30.0.2"), (std::map<std::string, double>{{"10.180.0.7:80", 1}}));
  EXPECT_NE(fake_->GetChain(IpFamily::kIPv4, "mangle", "KUBE-PROXY-CANARY"), nullptr);
  EXPECT_EQ(fake_->RuleLines(IpFamily::kIPv4, "nat", "PREROUTING").size(), 1u);
}

TEST_F(DataplaneTest, CountersDescribeTheLastSync) {
  AddA();
  ASSERT_TRUE(Sync().ok());
  const IptablesCounters& c = dataplane_->counters();
  EXPECT_EQ(c.syncs, 1u);
  EXPECT_EQ(c.nat_rules[0], 10u);
  EXPECT_EQ(c.filter_rules[0], 4u);
  EXPECT_EQ(c.last_sync_duration, std::chrono::milliseconds(5));
}

// What the fake kernel holds, every table of both families, as iptables-save lists it.
std::string KernelState(FakeIptablesRunner& fake) {
  std::string out;
  for (IpFamily f : kIpFamilies) {
    for (const char* t : {"filter", "nat", "mangle"}) {
      auto saved = fake.Save(f, t);
      out += saved.ok() ? *saved : "(no " + std::string(t) + ")\n";
    }
  }
  return out;
}

// The differential test: random change sequences applied as incremental (partial) syncs leave
// the kernel exactly as a fresh full sync of the same state leaves an empty one. Many seeds, both
// dispatch layouts, with kube-proxy's large-cluster mode flipping, periodic resyncs and injected
// restore failures (after which the retry is full).
TEST(DataplaneDifferential, IncrementalSyncsEqualAFreshFullSync) {
  struct Variant {
    DispatchMode dispatch;
    int large_cluster_threshold;
  };
  for (const Variant v : {Variant{DispatchMode::kLinear, 1000}, Variant{DispatchMode::kLinear, 10},
                          Variant{DispatchMode::kPrefixTree, 1000}}) {
    IptablesOptions o;
    o.localhost_nodeports = true;
    o.cluster_cidrs = {Net("10.0.0.0/8"), Net("fd00:10::/64")};
    o.dispatch = v.dispatch;
    o.dispatch_leaf_size = 2;
    o.large_cluster_endpoints_threshold = v.large_cluster_threshold;
    // 40 seeds per variant in the main stage, 10 under a sanitizer.
    for (uint32_t seed = 1; seed <= static_cast<uint32_t>(SanitizerRounds(40)); ++seed) {
      RandomChanges changes(seed, 12);
      StateBuilderForTest builder("node-a");
      RandomChanges::SetUpNode(builder);
      auto fake = std::make_unique<FakeIptablesRunner>();
      FakeIptablesRunner& kernel = *fake;
      IptablesDataplane incremental(o, std::move(fake), std::make_unique<FakeConntrack>());
      std::string history;
      for (int step = 0; step < 80; ++step) {
        history += changes.Step(builder) + "; ";
        if (step % 2 == 0) continue;  // two changes per sync
        const bool periodic = step % 17 == 0;
        const bool fail = step % 23 == 0;
        if (fail) kernel.FailNextRestores(1);
        const DesiredState state = builder.Build();
        const Status st = incremental.Apply(state, periodic);
        if (fail) {
          kernel.FailNextRestores(0);  // unused when nothing had to be written
          if (!st.ok()) continue;      // the kernel is behind; the next sync (full) catches up
        }
        ASSERT_TRUE(st.ok()) << st.message();
        auto fresh_kernel = std::make_unique<FakeIptablesRunner>();
        FakeIptablesRunner& expected = *fresh_kernel;
        IptablesDataplane fresh(o, std::move(fresh_kernel), std::make_unique<FakeConntrack>());
        ASSERT_TRUE(fresh.Apply(state, /*full=*/true).ok());
        ASSERT_EQ(KernelState(kernel), KernelState(expected))
            << "seed " << seed << " step " << step << " after " << history;
      }
      EXPECT_GT(incremental.counters().partial_syncs, 0u);
    }
  }
}

}  // namespace
}  // namespace kpx
