#include "proxier/ipvs/ipvs_destination_list.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

// IP plan: pods 10.244.0.0/16 and fd00:244::/64.
IpvsDestination Dest(const char* ip, uint16_t port, int weight = 1) {
  IpvsDestination d;
  d.key = {Ip(ip), port};
  d.weight = weight;
  return d;
}

std::vector<IpvsDestination> All(const IpvsDestinationList& list) {
  return {list.begin(), list.end()};
}

TEST(IpvsDestinationListTest, KeepsOneDestinationPerKeyInKeyOrder) {
  IpvsDestinationList list;
  list.Put(Dest("10.244.2.5", 8080));
  list.Put(Dest("10.244.1.5", 8081));
  list.Put(Dest("10.244.1.5", 8080));
  list.Put(Dest("fd00:244::5", 8080));
  list.Put(Dest("10.244.2.5", 8080, 0));  // replaces
  EXPECT_EQ(All(list),
            (std::vector<IpvsDestination>{Dest("10.244.1.5", 8080), Dest("10.244.1.5", 8081),
                                          Dest("10.244.2.5", 8080, 0), Dest("fd00:244::5", 8080)}));
  ASSERT_TRUE(list.Find({Ip("10.244.2.5"), 8080}).has_value());
  EXPECT_EQ(list.Find({Ip("10.244.2.5"), 8080})->weight, 0);
  EXPECT_FALSE(list.Find({Ip("10.244.2.5"), 8081}).has_value());
  EXPECT_FALSE(list.Contains({Ip("10.244.3.5"), 8080}));
  EXPECT_TRUE(list.Contains({Ip("fd00:244::5"), 8080}));

  EXPECT_TRUE(list.SetWeight({Ip("10.244.1.5"), 8081}, 7));
  EXPECT_FALSE(list.SetWeight({Ip("10.244.1.5"), 8082}, 7)) << "no such destination";
  EXPECT_EQ(list.Find({Ip("10.244.1.5"), 8081})->weight, 7);
  EXPECT_TRUE(list.Erase({Ip("10.244.1.5"), 8081}));
  EXPECT_FALSE(list.Erase({Ip("10.244.1.5"), 8081})) << "already gone";
  EXPECT_EQ(list.EraseIf([](const IpvsDestination& d) { return d.weight == 0; }), 1u);
  EXPECT_EQ(All(list),
            (std::vector<IpvsDestination>{Dest("10.244.1.5", 8080), Dest("fd00:244::5", 8080)}));
}

// Random puts and erases against a map, and the room growth leaves: an eighth, not double.
TEST(IpvsDestinationListTest, KeepsOnlyWhatAPlanCompares) {
  IpvsDestination d = Dest("10.244.1.5", 8080, 3);
  d.forward_method = 2;
  IpvsDestination dumped = d;
  dumped.upper_threshold = dumped.lower_threshold = 9;
  dumped.active_connections = dumped.inactive_connections = dumped.persistent_connections = 4;
  IpvsDestinationList list;
  list.Put(dumped);
  EXPECT_EQ(All(list), std::vector<IpvsDestination>{d}) << "counters and thresholds dropped";
  EXPECT_EQ(IpvsDestinationList::kEntryBytes, 28u);
}

TEST(IpvsDestinationListTest, RandomSequencesMatchAMapWithLittleUnusedRoom) {
  std::mt19937 rng(17);
  IpvsDestinationList list;
  std::map<IpvsDestinationKey, IpvsDestination> want;
  for (int step = 0; step < 20000; ++step) {
    IpvsDestination d;
    d.key = {IpAddress::FromV4(0x0af40000u + rng() % 500), static_cast<uint16_t>(8080 + rng() % 3)};
    d.weight = static_cast<int32_t>(rng() % 3);
    if (rng() % 100 < 60) {
      list.Put(d);
      want[d.key] = d;
    } else {
      EXPECT_EQ(list.Erase(d.key), want.erase(d.key) == 1);
    }
  }
  std::vector<IpvsDestination> expected;
  for (const auto& [k, d] : want) expected.push_back(d);
  EXPECT_EQ(All(list), expected);

  IpvsDestinationList grown;
  for (uint32_t i = 0; i < 1000; ++i) {
    IpvsDestination d;
    d.key = {IpAddress::FromV4(0x0af40000u + i), 8080};
    grown.Put(d);
  }
  EXPECT_EQ(grown.size(), 1000u);
  EXPECT_LE(grown.capacity(), 1000u + 1000u / 8 + 1);
}

}  // namespace
}  // namespace kpx
