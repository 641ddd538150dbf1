#include "proxier/netfilter/conntrack_cleaner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proxier/metrics/registry.h"
#include "proxier/netfilter/fake_conntrack.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::Ip;
using ::testing::IsEmpty;
using testing::StateBuilderForTest;
using testing::Svc;
using ::testing::UnorderedElementsAre;

// IP plan: services 10.96.0.0/16, external 203.0.113.0/24, pods 10.244.0.0/16.
ConntrackFilter Udp(std::optional<std::string> orig_dst, std::optional<int> port,
                    std::optional<std::string> dst_nat) {
  ConntrackFilter f;
  f.family = IpFamily::kIPv4;
  f.protocol = Protocol::kUDP;
  if (orig_dst) f.orig_dst = Ip(*orig_dst);
  f.orig_dst_port = port;
  if (dst_nat) f.dst_nat = Ip(*dst_nat);
  return f;
}

ServicePortInfo Dns() {
  return Svc("kube-system", "dns", "dns", Protocol::kUDP, 53, "10.96.0.10", [](auto& i) {
    i.node_port = 30053;
    i.external_ips = {Ip("203.0.113.7")};
  });
}

class ConntrackCleanerTest : public ::testing::Test {
 protected:
  void Apply(const DesiredState& next) {
    const DesiredState* before = last_ ? &*last_ : nullptr;
    cleaner_.Clean(IpFamily::kIPv4, before, next, ConntrackCleaner::ChangedBetween(before, next));
    last_ = next;
  }

  FakeConntrack conntrack_;
  ConntrackCleaner cleaner_{&conntrack_};
  StateBuilderForTest builder_;
  std::optional<DesiredState> last_;
};

TEST_F(ConntrackCleanerTest, RemovedEndpointEntriesGoForEveryAddressAndTheNodePort) {
  Apply(builder_.Add(Dns(), {Ep("10.244.1.5", 53), Ep("10.244.2.5", 53)}).Build());
  conntrack_.Clear();
  Apply(builder_.Add(Dns(), {Ep("10.244.2.5", 53)}).Build());
  EXPECT_THAT(conntrack_.deleted(),
              UnorderedElementsAre(Udp("10.96.0.10", std::nullopt, "10.244.1.5"),
                                   Udp("203.0.113.7", std::nullopt, "10.244.1.5"),
                                   Udp(std::nullopt, 30053, "10.244.1.5")));
  EXPECT_EQ(conntrack_.calls(), 1) << "a sync's filters go in one call: one pass over the table";
}

TEST_F(ConntrackCleanerTest, ManyChangedPortsOneCallAndNoCallWithoutFilters) {
  const auto dns2 = Svc("kube-system", "dns2", "dns", Protocol::kUDP, 53, "10.96.0.11");
  Apply(builder_.Add(Dns(), {Ep("10.244.1.5", 53)}).Add(dns2, {Ep("10.244.1.7", 53)}).Build());
  conntrack_.Clear();
  Apply(builder_.Add(Dns(), {}).Add(dns2, {}).Build());
  EXPECT_EQ(conntrack_.deleted().size(), 4u) << "3 for dns, 1 for dns2";
  EXPECT_EQ(conntrack_.calls(), 1);
  conntrack_.Clear();
  Apply(builder_.Add(Dns(), {}).Build());  // nothing reachable before or after
  EXPECT_EQ(conntrack_.calls(), 0);
}

TEST(ConntrackCleanerFailureTest, AFailedCallCountsEachOfItsFiltersAndNoEntries) {
  FakeConntrack failing;
  failing.Fail("refused");
  ConntrackCleaner cleaner(&failing);
  StateBuilderForTest builder;
  const DesiredState a = builder.Add(Dns(), {}).Build();
  const DesiredState b = builder.Add(Dns(), {Ep("10.244.1.5", 53)}).Build();
  cleaner.Clean(IpFamily::kIPv4, &a, b, ConntrackCleaner::ChangedBetween(&a, b));
  EXPECT_EQ(cleaner.deletions(), 0u);
  EXPECT_EQ(cleaner.failures(), 3u);
}

// The deletion count is the kernel's number of entries, not the number of filters: three filters
// that matched seven flows count seven.
TEST(ConntrackCleanerCountTest, CountsEntriesTheKernelDeleted) {
  FakeConntrack conntrack;
  conntrack.SetEntriesPerCall(7);
  ConntrackCleaner cleaner(&conntrack);
  StateBuilderForTest builder;
  const DesiredState a = builder.Add(Dns(), {}).Build();
  const DesiredState b = builder.Add(Dns(), {Ep("10.244.1.5", 53)}).Build();
  cleaner.Clean(IpFamily::kIPv4, &a, b, ConntrackCleaner::ChangedBetween(&a, b));
  EXPECT_EQ(conntrack.deleted().size(), 3u);
  EXPECT_EQ(cleaner.deletions(), 7u);
  EXPECT_EQ(cleaner.failures(), 0u);
  MetricsRegistry metrics;
  cleaner.RecordMetrics(metrics);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("kpx_conntrack_entries_deleted_total 7"), std::string::npos) << text;
}

TEST_F(ConntrackCleanerTest, FirstEndpointFlushesEntriesMadeWhileRejecting) {
  Apply(builder_.Add(Dns(), {}).Build());
  EXPECT_THAT(conntrack_.deleted(), IsEmpty());
  Apply(builder_.Add(Dns(), {Ep("10.244.1.5", 53)}).Build());
  EXPECT_THAT(conntrack_.deleted(),
              UnorderedElementsAre(Udp("10.96.0.10", std::nullopt, std::nullopt),
                                   Udp("203.0.113.7", std::nullopt, std::nullopt),
                                   Udp(std::nullopt, 30053, std::nullopt)));
}

TEST_F(ConntrackCleanerTest, DeletedServiceAndTcpChanges) {
  const auto web = Svc("ns", "web", "http", Protocol::kTCP, 80, "10.96.0.20");
  Apply(builder_.Add(Dns(), {Ep("10.244.1.5", 53)}).Add(web, {Ep("10.244.1.6", 80)}).Build());
  conntrack_.Clear();
  Apply(builder_.Add(web, {}).Build());
  EXPECT_THAT(conntrack_.deleted(), IsEmpty()) << "TCP endpoints reset their own connections";
  Apply(builder_.Remove(Dns().name).Build());
  EXPECT_EQ(conntrack_.deleted().size(), 3u);
  EXPECT_EQ(cleaner_.deletions(), 6u) << "3 for the first endpoint, 3 for the deleted service";
}

TEST_F(ConntrackCleanerTest, ChangedBetweenTrustsTheChangeSetOnlyForTheNextSnapshot) {
  const auto web = Svc("ns", "web", "http", Protocol::kTCP, 80, "10.96.0.20");
  const DesiredState a = builder_.Add(Dns(), {}).Add(web, {}).Build();
  const DesiredState b = builder_.Add(Dns(), {Ep("10.244.1.5", 53)}).Build();
  const DesiredState c = builder_.Add(web, {Ep("10.244.1.6", 80)}).Build();
  EXPECT_EQ(ConntrackCleaner::ChangedBetween(&b, c), c.changed);
  // b was never applied (a failed sync): the change from a to c covers both ports.
  EXPECT_EQ(ConntrackCleaner::ChangedBetween(&a, c),
            (std::set<ServicePortName>{Dns().name, web.name}));
  EXPECT_EQ(ConntrackCleaner::ChangedBetween(nullptr, c).size(), 2u);

  EXPECT_TRUE(ConntrackCleaner::ChangeSetIsExact(&b, c));
  EXPECT_FALSE(ConntrackCleaner::ChangeSetIsExact(&a, c));
  // With nothing applied before, the change set serves when it names every port (a first
  // snapshot), and not when it names only some: c's names web alone.
  EXPECT_TRUE(ConntrackCleaner::ChangeSetIsExact(nullptr, a));
  EXPECT_FALSE(ConntrackCleaner::ChangeSetIsExact(nullptr, c));
  DesiredState extra = a;  // a removed port's name beside every present one still serves
  extra.changed.insert(Svc("ns", "gone", "http", Protocol::kTCP, 80, "10.96.0.30").name);
  EXPECT_TRUE(ConntrackCleaner::ChangeSetIsExact(nullptr, extra));
  EXPECT_EQ(ConntrackCleaner::ChangedBetween(nullptr, extra), extra.changed);

  // ChangesToApply hands out the snapshot's own set when exact, and the computed one otherwise.
  std::set<ServicePortName> storage;
  EXPECT_EQ(&ConntrackCleaner::ChangesToApply(&b, c, &storage), &c.changed);
  EXPECT_TRUE(storage.empty());
  EXPECT_EQ(&ConntrackCleaner::ChangesToApply(&a, c, &storage), &storage);
  EXPECT_EQ(storage, (std::set<ServicePortName>{Dns().name, web.name}));
}

TEST(ConntrackCleanerNullTest, WithoutConntrackNothingHappens) {
  ConntrackCleaner cleaner(nullptr);
  StateBuilderForTest builder;
  const DesiredState s = builder.Add(Dns(), {Ep("10.244.1.5", 53)}).Build();
  cleaner.Clean(IpFamily::kIPv4, nullptr, s, s.changed);
  EXPECT_EQ(cleaner.deletions(), 0u);
}

}  // namespace
}  // namespace kpx
