#include "proxier/ipvs/ipset_entry_counts.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::Net;

// IP plan: services 10.96.0.0/16 and fd00:96::/64; pods 10.244.0.0/16; load balancer
// 198.51.100.0/24, clients 192.0.2.0/24.
IpsetEntry Hashed(const char* set, IpFamily f, const char* ip, uint16_t port,
                  Protocol p = Protocol::kTCP) {
  return {IpsetEntrySet(set, f), p, port, Ip(ip), {}};
}

std::map<IpsetEntry, uint32_t> Contents(const IpsetEntryCounts& counts) {
  std::map<IpsetEntry, uint32_t> out;
  counts.ForEach([&](const IpsetEntry& e) {
    EXPECT_TRUE(out.emplace(e, counts.Count(e)).second) << "listed twice: " << e.Line();
  });
  return out;
}

TEST(IpsetEntryCountsTest, CountsReferencesAndForgetsTheLast) {
  IpsetEntryCounts counts;
  const IpsetEntry e = Hashed(kLoopBackSet, IpFamily::kIPv4, "10.244.1.5", 8080);
  EXPECT_TRUE(counts.Add(e)) << "new";
  EXPECT_FALSE(counts.Add(e)) << "a second reference";
  EXPECT_EQ(counts.Count(e), 2u);
  EXPECT_FALSE(counts.Remove(e)) << "one reference left";
  EXPECT_TRUE(counts.Contains(e));
  EXPECT_TRUE(counts.Remove(e)) << "the last";
  EXPECT_FALSE(counts.Contains(e));
  EXPECT_FALSE(counts.Remove(e)) << "not there: left alone";
  EXPECT_TRUE(counts.empty());
}

TEST(IpsetEntryCountsTest, EntriesDifferingInAnyMemberAreDistinct) {
  IpsetEntryCounts counts;
  const std::vector<IpsetEntry> entries = {
      Hashed(kClusterIpSet, IpFamily::kIPv4, "10.96.0.1", 80),
      Hashed(kClusterIpSet, IpFamily::kIPv4, "10.96.0.1", 81),
      Hashed(kClusterIpSet, IpFamily::kIPv4, "10.96.0.1", 80, Protocol::kUDP),
      Hashed(kClusterIpSet, IpFamily::kIPv4, "10.96.0.2", 80),
      Hashed(kLoopBackSet, IpFamily::kIPv4, "10.96.0.1", 80),
      Hashed(kClusterIpSet, IpFamily::kIPv6, "fd00:96::1", 80),
      {IpsetEntrySet(kNodePortTcpSet, IpFamily::kIPv4), Protocol::kTCP, 30080, {}, {}},
      {IpsetEntrySet(kNodePortUdpSet, IpFamily::kIPv4), Protocol::kTCP, 30080, {}, {}},
      // Entries with a net live apart; two nets on one address and port are two entries.
      {IpsetEntrySet(kLoadBalancerSourceCidrSet, IpFamily::kIPv4), Protocol::kTCP, 80,
       Ip("198.51.100.1"), Net("192.0.2.0/24")},
      {IpsetEntrySet(kLoadBalancerSourceCidrSet, IpFamily::kIPv4), Protocol::kTCP, 80,
       Ip("198.51.100.1"), Net("192.0.2.0/25")},
  };
  for (const IpsetEntry& e : entries) EXPECT_TRUE(counts.Add(e)) << e.Line();
  EXPECT_EQ(counts.size(), entries.size());
  std::map<IpsetEntry, uint32_t> want;
  for (const IpsetEntry& e : entries) want[e] = 1;
  EXPECT_EQ(Contents(counts), want);
  for (const IpsetEntry& e : entries) EXPECT_TRUE(counts.Remove(e)) << e.Line();
  EXPECT_TRUE(counts.empty());
}

TEST(IpsetEntryCountsTest, BitmapEntriesAreTheSameForBothFamilies) {
  EXPECT_EQ(IpsetEntrySet(kNodePortTcpSet, IpFamily::kIPv4),
            IpsetEntrySet(kNodePortTcpSet, IpFamily::kIPv6));
  EXPECT_NE(IpsetEntrySet(kClusterIpSet, IpFamily::kIPv4),
            IpsetEntrySet(kClusterIpSet, IpFamily::kIPv6));
}

// Random adds and removes over a pool small enough to collide often, checked against a map
// after every step: growth, the index's hole closing and the dense array's moves all happen.
IpsetPresence PresenceOf(const std::map<IpsetEntry, uint32_t>& entries) {
  IpsetPresence out;
  for (const auto& [e, n] : entries) out.set(e.set);
  return out;
}

// The iptables rules of a set exist while it holds an entry: presence flips with the first
// entry's arrival and the last one's departure, not with references.
TEST(IpsetEntryCountsTest, PresenceFollowsTheFirstAndLastEntryOfEachSet) {
  IpsetEntryCounts counts;
  const IpsetEntry a = Hashed(kClusterIpSet, IpFamily::kIPv4, "10.96.0.10", 80);
  const IpsetEntry b = Hashed(kClusterIpSet, IpFamily::kIPv4, "10.96.0.11", 80);
  const IpsetEntry v6 = Hashed(kClusterIpSet, IpFamily::kIPv6, "fd00:96::10", 80);
  const IpsetEntry node_port{
      IpsetEntrySet(kNodePortTcpSet, IpFamily::kIPv6), Protocol::kTCP, 30080, {}, {}};
  const IpsetEntry range{IpsetEntrySet(kLoadBalancerSourceCidrSet, IpFamily::kIPv4), Protocol::kTCP,
                         443, Ip("198.51.100.7"), Net("192.0.2.0/24")};
  const uint8_t cluster4 = IpsetEntrySet(kClusterIpSet, IpFamily::kIPv4);
  EXPECT_TRUE(counts.Presence().none());
  counts.Add(a);
  counts.Add(a);
  counts.Add(b);
  counts.Add(v6);
  counts.Add(node_port);
  counts.Add(range);
  IpsetPresence want;
  want.set(cluster4).set(v6.set).set(node_port.set).set(range.set);
  EXPECT_EQ(counts.Presence(), want);
  // The bitmap set is one for both families.
  EXPECT_TRUE(counts.Presence().test(IpsetEntrySet(kNodePortTcpSet, IpFamily::kIPv4)));
  counts.Remove(a);
  counts.Remove(b);
  EXPECT_TRUE(counts.Presence().test(cluster4)) << "a is still referenced once";
  counts.Remove(a);
  EXPECT_FALSE(counts.Presence().test(cluster4));
  counts.Remove(range);
  EXPECT_FALSE(counts.Presence().test(range.set)) << "entries with a net count too";
  counts.Remove(range);
  EXPECT_FALSE(counts.Presence().test(range.set)) << "removing an absent entry changes nothing";
  EXPECT_TRUE(counts.Presence().test(v6.set));
  counts.Clear();
  EXPECT_TRUE(counts.Presence().none());
}

TEST(IpsetEntryCountsTest, RandomSequencesMatchAPlainMap) {
  std::mt19937 rng(17);
  std::vector<IpsetEntry> pool;
  for (int i = 0; i < 3000; ++i) {
    const uint32_t v = 0x0af40000u + static_cast<uint32_t>(i % 1500);
    // Every family's table: IPv4, IPv6 (a fifth) and bitmap ports (a seventh).
    const IpFamily f = i % 5 == 1 ? IpFamily::kIPv6 : IpFamily::kIPv4;
    std::array<uint8_t, 16> v6{0xfd, 0, 0x02, 0x44};
    v6[14] = static_cast<uint8_t>(v >> 8);
    v6[15] = static_cast<uint8_t>(v);
    IpsetEntry e{IpsetEntrySet(i % 3 == 0 ? kLoopBackSet : kClusterIpSet, f),
                 i % 2 ? Protocol::kUDP : Protocol::kTCP,
                 static_cast<uint16_t>(8000 + i % 7),
                 f == IpFamily::kIPv6 ? IpAddress::FromBytes(f, v6) : IpAddress::FromV4(v),
                 {}};
    if (i % 7 == 3)
      e = {IpsetEntrySet(kNodePortTcpSet, f),
           Protocol::kTCP,
           static_cast<uint16_t>(30000 + i % 50),
           {},
           {}};
    if (i % 101 == 0) {
      e.set = IpsetEntrySet(kLoadBalancerSourceCidrSet, IpFamily::kIPv4);
      e.net = Net("192.0.2.0/24");
    }
    pool.push_back(e);
  }
  IpsetEntryCounts counts;
  std::map<IpsetEntry, uint32_t> want;
  for (int step = 0; step < 40000; ++step) {
    const IpsetEntry& e = pool[rng() % pool.size()];
    // Grow for the first half, shrink for the second.
    const bool add = rng() % 100 < (step < 20000 ? 70u : 30u);
    if (add) {
      EXPECT_EQ(counts.Add(e), ++want[e] == 1);
    } else {
      auto it = want.find(e);
      const bool last = it != want.end() && it->second == 1;
      EXPECT_EQ(counts.Remove(e), last);
      if (it != want.end() && --it->second == 0) want.erase(it);
    }
    ASSERT_EQ(counts.size(), want.size()) << "step " << step;
    if (step % 97 == 0) {
      ASSERT_EQ(counts.Presence(), PresenceOf(want)) << "step " << step;
    }
    if (step % 997 == 0) {
      ASSERT_EQ(Contents(counts), want) << "step " << step;
    }
  }
  EXPECT_EQ(Contents(counts), want);
  for (const auto& [e, n] : want) EXPECT_EQ(counts.Count(e), n);
  EXPECT_EQ(counts.Presence(), PresenceOf(want));
  counts.Clear();
  EXPECT_TRUE(counts.empty());
  EXPECT_EQ(counts.HeapBytes(), 0u);
}

TEST(IpsetEntryCountsTest, ReserveKeepsEverything) {
  IpsetEntryCounts counts;
  for (uint32_t i = 0; i < 100; ++i) {
    counts.Add({IpsetEntrySet(kLoopBackSet, IpFamily::kIPv4),
                Protocol::kTCP,
                8080,
                IpAddress::FromV4(0x0af40000u + i),
                {}});
  }
  counts.Reserve(5000, 0);
  EXPECT_EQ(counts.size(), 100u);
  for (uint32_t i = 0; i < 100; ++i) {
    EXPECT_TRUE(counts.Contains({IpsetEntrySet(kLoopBackSet, IpFamily::kIPv4),
                                 Protocol::kTCP,
                                 8080,
                                 IpAddress::FromV4(0x0af40000u + i),
                                 {}}));
  }
  // 12 bytes per IPv4 entry plus the index, far below a node-based map's.
  EXPECT_EQ(counts.HeapBytes(), 5000u * 12 + 16384u * 4);
}

}  // namespace
}  // namespace kpx
