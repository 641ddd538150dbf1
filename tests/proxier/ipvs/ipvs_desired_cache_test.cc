#include "proxier/ipvs/ipvs_desired_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::Ip;
using ::testing::IsEmpty;
using testing::LocalEp;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: node 192.168.0.10; services 10.96.0.0/16; pods 10.244.0.0/16; external 203.0.113.0/24.
const std::vector<IpAddress> kNodeIps = {Ip("192.168.0.10")};
const ServicePortName kA{"default", "a", "", Protocol::kTCP};
const ServicePortName kB{"default", "b", "", Protocol::kTCP};

ServicePortInfo SvcA(const std::function<void(ServicePortInfo&)>& edit = nullptr) {
  return Svc("default", "a", "", Protocol::kTCP, 80, "10.96.0.1", edit);
}
// Shares its external IP with a's, on another port.
ServicePortInfo SvcB(const std::function<void(ServicePortInfo&)>& edit = nullptr) {
  return Svc("default", "b", "", Protocol::kTCP, 81, "10.96.0.2", [&](ServicePortInfo& i) {
    i.external_ips = {Ip("203.0.113.7")};
    if (edit) edit(i);
  });
}

class IpvsDesiredCacheTest : public ::testing::Test {
 protected:
  IpvsDesiredCacheTest() : cache_(IpvsOptions{}) { cache_.SetNodePortIps(kNodeIps); }

  // The cache must always say what BuildDesiredIpvs says of the same snapshot.
  void ExpectMatchesFullBuild(const DesiredState& state) {
    const DesiredIpvs full = BuildDesiredIpvs(state, IpvsOptions{}, kNodeIps);
    const DesiredIpvs cached = cache_.Assemble();
    EXPECT_EQ(cached.servers, full.servers);
    EXPECT_EQ(cached.bound_addresses, full.bound_addresses);
    std::set<IpsetEntryLine> lines;
    for (const auto& [name, set] : RenderIpsets(state, IpFamily::kIPv4)) {
      for (const auto& e : set.entries) lines.insert(name + " " + e);
    }
    EXPECT_EQ(cache_.IpsetLines(), lines);
  }

  IpvsDesiredCache cache_;
  StateBuilderForTest builder_;
};

TEST_F(IpvsDesiredCacheTest, SharedAddressStaysWantedUntilTheLastUserLeaves) {
  const DesiredState first =
      builder_
          .Add(SvcA([](ServicePortInfo& i) { i.external_ips = {Ip("203.0.113.7")}; }),
               {Ep("10.244.1.5", 8080)})
          .Add(SvcB(), {Ep("10.244.2.5", 8080)})
          .Build();
  cache_.Rebuild(first);
  ExpectMatchesFullBuild(first);
  EXPECT_TRUE(cache_.WantsAddress(Ip("203.0.113.7")));

  const DesiredState second = builder_.Remove(kA).Build();
  IpvsDesiredCache::Touched t = cache_.Update(second, second.changed);
  ExpectMatchesFullBuild(second);
  EXPECT_TRUE(cache_.WantsAddress(Ip("203.0.113.7"))) << "b still uses it";
  EXPECT_FALSE(cache_.WantsAddress(Ip("10.96.0.1")));
  EXPECT_EQ(t.addresses, (std::set<IpAddress>{Ip("10.96.0.1"), Ip("203.0.113.7")}));
  ASSERT_EQ(t.replaced.size(), 1u);
  EXPECT_EQ(t.replaced[0].first, kA);
  EXPECT_NE(t.replaced[0].second, nullptr) << "the state a had before";
  // a's own entries go; the shared external IP set entry is b's on another port, so it stays.
  EXPECT_EQ(t.ipset_lines,
            "del KUBE-CLUSTER-IP 10.96.0.1,tcp:80\n"
            "del KUBE-EXTERNAL-IP 203.0.113.7,tcp:80\n");

  const DesiredState third = builder_.Remove(kB).Build();
  cache_.Update(third, third.changed);
  ExpectMatchesFullBuild(third);
  EXPECT_FALSE(cache_.WantsAddress(Ip("203.0.113.7")));
  EXPECT_EQ(cache_.server_count(), 0u);
  EXPECT_THAT(cache_.IpsetLines(), IsEmpty());
}

TEST_F(IpvsDesiredCacheTest, SharedIpsetEntryIsDeletedOnlyWhenNoPortWantsIt) {
  // One local pod behind two services: one KUBE-LOOP-BACK entry, wanted twice.
  const DesiredState first = builder_.Add(SvcA(), {LocalEp("10.244.1.5", 8080)})
                                 .Add(SvcB(), {LocalEp("10.244.1.5", 8080)})
                                 .Build();
  cache_.Rebuild(first);
  const DesiredState second = builder_.Add(SvcA(), {}).Build();
  IpvsDesiredCache::Touched t = cache_.Update(second, second.changed);
  ExpectMatchesFullBuild(second);
  EXPECT_EQ(t.ipset_lines, "") << "b still needs the entry";
  EXPECT_EQ(t.ipset_changes, 0u);
  const DesiredState third = builder_.Add(SvcB(), {}).Build();
  t = cache_.Update(third, third.changed);
  ExpectMatchesFullBuild(third);
  EXPECT_EQ(t.ipset_lines, "del KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5\n");
}

TEST_F(IpvsDesiredCacheTest, ContestedServerGoesToTheSmallestNameWhateverTheOrderOfArrival) {
  // b arrives first and claims 10.96.0.9:80; a, sorted before it, claims the same key later.
  auto at9 = [](ServicePortInfo& i) {
    i.cluster_ip[0] = Ip("10.96.0.9");
    i.port = 80;
  };
  const DesiredState first = builder_.Add(SvcB(at9), {Ep("10.244.2.5", 8080)}).Build();
  cache_.Rebuild(first);
  const IpvsServiceKey key{Protocol::kTCP, Ip("10.96.0.9"), 80};
  ASSERT_TRUE(cache_.Find(key).has_value());
  EXPECT_EQ(cache_.Find(key)->owner, kB);
  const DesiredState second = builder_.Add(SvcA(at9), {Ep("10.244.1.5", 8080)}).Build();
  IpvsDesiredCache::Touched t = cache_.Update(second, second.changed);
  EXPECT_TRUE(t.servers.contains(key));
  EXPECT_EQ(cache_.Find(key)->owner, kA);
  ExpectMatchesFullBuild(second);
  // a leaves: b's claim is in force again.
  const DesiredState third = builder_.Remove(kA).Build();
  cache_.Update(third, third.changed);
  EXPECT_EQ(cache_.Find(key)->owner, kB);
  ExpectMatchesFullBuild(third);
}

TEST_F(IpvsDesiredCacheTest, ThreeClaimantsHandTheServerOnInNameOrder) {
  // c, a and b (arriving in that order) all claim 10.96.0.9:80; whoever leaves, the smallest
  // remaining name wins, and the key goes with the last claimant.
  const ServicePortName kC{"default", "c", "", Protocol::kTCP};
  auto at9 = [](ServicePortInfo& i) {
    i.cluster_ip[0] = Ip("10.96.0.9");
    i.port = 80;
  };
  const IpvsServiceKey key{Protocol::kTCP, Ip("10.96.0.9"), 80};
  cache_.Rebuild(
      builder_.Add(Svc("default", "c", "", Protocol::kTCP, 80, "10.96.0.9"), {}).Build());
  EXPECT_EQ(cache_.Find(key)->owner, kC);
  for (const ServicePortInfo& info : {SvcA(at9), SvcB(at9)}) {
    const DesiredState s = builder_.Add(info, {}).Build();
    cache_.Update(s, s.changed);
    EXPECT_EQ(cache_.Find(key)->owner, kA);
    ExpectMatchesFullBuild(s);
  }
  struct Step {
    ServicePortName leaves;
    std::optional<ServicePortName> winner;
  };
  for (const Step& step : {Step{kA, kB}, Step{kC, kB}, Step{kB, std::nullopt}}) {
    const DesiredState s = builder_.Remove(step.leaves).Build();
    IpvsDesiredCache::Touched t = cache_.Update(s, s.changed);
    EXPECT_TRUE(t.servers.contains(key));
    ExpectMatchesFullBuild(s);
    if (step.winner) {
      ASSERT_TRUE(cache_.Find(key).has_value()) << step.leaves.name << " left";
      EXPECT_EQ(cache_.Find(key)->owner, *step.winner) << step.leaves.name << " left";
    } else {
      EXPECT_FALSE(cache_.Find(key).has_value());
    }
  }
  EXPECT_EQ(cache_.server_count(), 0u);
}

TEST_F(IpvsDesiredCacheTest, UnchangedPointerIsNotRebuilt) {
  const DesiredState first =
      builder_.Add(SvcA([](ServicePortInfo& i) { i.node_port = 30080; }), {Ep("10.244.1.5", 8080)})
          .Build();
  cache_.Rebuild(first);
  // The same snapshot again: a change set naming a, but the pointer is the same.
  IpvsDesiredCache::Touched t = cache_.Update(first, {kA});
  EXPECT_THAT(t.replaced, IsEmpty());
  EXPECT_THAT(t.servers, IsEmpty());
  // New NodePort addresses: the NodePort servers move, the ipsets (ports only) stay.
  const std::set<IpsetEntryLine> lines = cache_.IpsetLines();
  EXPECT_THAT(lines, ::testing::Contains("KUBE-NODE-PORT-TCP 30080"));
  EXPECT_TRUE(cache_.SetNodePortIps({Ip("192.168.0.11")}));
  EXPECT_FALSE(cache_.SetNodePortIps({Ip("192.168.0.11")}));
  t = cache_.Rebuild(first);
  EXPECT_THAT(t.replaced, IsEmpty()) << "the state itself did not change";
  EXPECT_EQ(cache_.IpsetLines(), lines);
  EXPECT_EQ(t.ipset_lines, "") << "a rebuild leaves the sets to a whole comparison";
  EXPECT_TRUE(cache_.Find({Protocol::kTCP, Ip("192.168.0.11"), 30080}).has_value());
  EXPECT_FALSE(cache_.Find({Protocol::kTCP, Ip("192.168.0.10"), 30080}).has_value());
}

TEST_F(IpvsDesiredCacheTest, RebuildReportsWhatChangedAgainstTheCache) {
  const DesiredState first = builder_.Add(SvcA(), {Ep("10.244.1.5", 8080)}).Build();
  IpvsDesiredCache::Touched t = cache_.Rebuild(first);
  ASSERT_EQ(t.replaced.size(), 1u);
  EXPECT_EQ(t.replaced[0].second, nullptr);
  const DesiredState second = builder_.Remove(kA).Add(SvcB(), {}).Build();
  t = cache_.Rebuild(second);
  ASSERT_EQ(t.replaced.size(), 2u);
  ExpectMatchesFullBuild(second);
  EXPECT_EQ(cache_.port_count(), 1u);
}

}  // namespace
}  // namespace kpx
