#include "base/persistent_map.h"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kpx {
namespace {

using Map = PersistentMap<std::string, int>;

std::map<std::string, int> AsStdMap(const Map& m) {
  std::map<std::string, int> out;
  for (const auto& [k, v] : m) EXPECT_TRUE(out.emplace(k, v).second) << "duplicate key " << k;
  return out;
}

// The AVL bound: a tree of n nodes is less than 1.4405 * log2(n + 2) levels high.
void ExpectBalanced(const Map& m) {
  EXPECT_LT(m.height(), 1.4405 * std::log2(static_cast<double>(m.size()) + 2) + 1e-9)
      << "size " << m.size();
}

TEST(PersistentMapTest, EmptyMap) {
  Map m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.begin(), m.end());
  EXPECT_EQ(m.find("a"), m.end());
  EXPECT_FALSE(m.contains("a"));
  EXPECT_EQ(m.erase("a"), 0u);
  EXPECT_THROW(m.at("a"), std::out_of_range);
}

TEST(PersistentMapTest, InsertOrAssignReplacesAndEmplaceDoesNot) {
  Map m;
  EXPECT_TRUE(m.insert_or_assign("b", 1));
  EXPECT_FALSE(m.insert_or_assign("b", 2));
  EXPECT_EQ(m.at("b"), 2);
  auto [it, added] = m.emplace("b", 3);
  EXPECT_FALSE(added);
  EXPECT_EQ(it->second, 2);
  auto [it2, added2] = m.emplace("a", 4);
  EXPECT_TRUE(added2);
  EXPECT_EQ(it2->first, "a");
  ++it2;
  ASSERT_NE(it2, m.end());
  EXPECT_EQ(it2->first, "b");
  EXPECT_EQ(m.size(), 2u);
}

TEST(PersistentMapTest, FindYieldsAnIteratorThatWalksOnInOrder) {
  Map m;
  for (int i = 0; i < 100; i += 2) m.insert_or_assign(std::to_string(1000 + i), i);
  auto it = m.find("1050");
  ASSERT_NE(it, m.end());
  int expected = 50;
  for (; it != m.end(); ++it, expected += 2) {
    EXPECT_EQ(it->first, std::to_string(1000 + expected));
    EXPECT_EQ(it->second, expected);
  }
  EXPECT_EQ(expected, 100);
  EXPECT_EQ(m.find("1051"), m.end());
}

// Random inserts, replacements and erases against std::map, keeping every fiftieth version: each
// kept version must still read exactly as std::map did when it was taken.
TEST(PersistentMapTest, MatchesStdMapAndOldVersionsStayIntact) {
  std::mt19937 rng(7);
  Map m;
  std::map<std::string, int> model;
  std::vector<std::pair<Map, std::map<std::string, int>>> versions;
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "k" + std::to_string(rng() % 3000);
    switch (rng() % 3) {
      case 0:
      case 1: {
        const int v = static_cast<int>(rng() % 1000);
        EXPECT_EQ(m.insert_or_assign(key, v), !model.contains(key));
        model.insert_or_assign(key, v);
        break;
      }
      default:
        EXPECT_EQ(m.erase(key), model.erase(key));
    }
    ASSERT_EQ(m.size(), model.size());
    if (step % 50 == 0) versions.emplace_back(m, model);
    if (step % 7 == 0) {
      // lower_bound lands where std::map's does, and walks on in order from there.
      const std::string probe = "k" + std::to_string(rng() % 3100);
      auto got = m.lower_bound(probe);
      auto want = model.lower_bound(probe);
      for (int i = 0; i < 3 && want != model.end(); ++i, ++got, ++want) {
        ASSERT_NE(got, m.end());
        ASSERT_EQ(got->first, want->first);
        ASSERT_EQ(got->second, want->second);
      }
      if (want == model.end()) {
        ASSERT_EQ(got, m.end());
      }
    }
  }
  EXPECT_EQ(AsStdMap(m), model);
  ExpectBalanced(m);
  for (const auto& [map, expected] : versions) {
    ASSERT_EQ(AsStdMap(map), expected);
    ExpectBalanced(map);
  }
}

TEST(PersistentMapTest, SequentialKeysStayBalanced) {
  Map m;
  for (int i = 0; i < 10000; ++i) m.insert_or_assign(std::to_string(100000 + i), i);
  ExpectBalanced(m);
  for (int i = 0; i < 10000; i += 3) m.erase(std::to_string(100000 + i));
  ExpectBalanced(m);
  EXPECT_EQ(m.size(), 10000u - 3334u);
}

TEST(PersistentMapTest, EqualityComparesContentsNotHistory) {
  Map a;
  Map b;
  for (int i = 0; i < 50; ++i) a.insert_or_assign(std::to_string(i), i);
  for (int i = 49; i >= 0; --i) b.insert_or_assign(std::to_string(i), i);
  EXPECT_EQ(a, b);
  Map c = a;
  EXPECT_EQ(a, c);
  c.insert_or_assign("7", 70);
  EXPECT_FALSE(a == c);
  EXPECT_EQ(a.at("7"), 7);
}

// Counts copies of its value, to show that copies of the map share their elements.
struct Counted {
  static int copies;
  int v = 0;
  explicit Counted(int x) : v(x) {}
  Counted(const Counted& o) : v(o.v) { ++copies; }
  Counted(Counted&&) = default;
  Counted& operator=(Counted&&) = default;
  bool operator==(const Counted&) const = default;
};
int Counted::copies = 0;

// Entries live in the nodes: a change copies the entries of the nodes on its path (and of the
// few it rotates), never the map's other entries, and copying the map copies none.
TEST(PersistentMapTest, ChangesCopyOnlyTheEntriesOnTheirPath) {
  PersistentMap<int, Counted> m;
  for (int i = 0; i < 1000; ++i) m.insert_or_assign(i, Counted(i));
  const int height = m.height();
  Counted::copies = 0;
  std::vector<PersistentMap<int, Counted>> versions;
  for (int i = 0; i < 100; ++i) versions.push_back(m);
  EXPECT_EQ(Counted::copies, 0);
  for (int i = 0; i < 100; ++i) {
    Counted::copies = 0;
    m.insert_or_assign(i, Counted(-i));
    EXPECT_LE(Counted::copies, 2 * (height + 1)) << "insert " << i;
    Counted::copies = 0;
    m.erase(500 + i);
    EXPECT_LE(Counted::copies, 2 * (height + 1)) << "erase " << 500 + i;
  }
  EXPECT_EQ(versions.front().at(0).v, 0);
  EXPECT_EQ(versions.back().at(99).v, 99);
  EXPECT_EQ(versions.back().size(), 1000u);
  EXPECT_EQ(m.at(99).v, -99);
  EXPECT_EQ(m.size(), 900u);
}

// Nodes no copy shares are changed in place: building a map copies no entry, a copy taken
// meanwhile sees none of the later inserts, and once that copy is gone the inserts are in place
// again.
TEST(PersistentMapTest, InsertsChangeInPlaceWhatNoCopyShares) {
  PersistentMap<int, Counted> m;
  Counted::copies = 0;
  for (int i = 0; i < 1000; ++i) m.insert_or_assign((i * 7919) % 1000, Counted(i));
  EXPECT_EQ(Counted::copies, 0);
  EXPECT_LT(m.height(), 1.4405 * std::log2(1000.0 + 2));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(m.at((i * 7919) % 1000).v, i);
  const int five = m.at(5).v;
  {
    const PersistentMap<int, Counted> before = m;
    for (int i = 1000; i < 1100; ++i) m.insert_or_assign(i, Counted(i));
    m.insert_or_assign(5, Counted(-5));
    EXPECT_GT(Counted::copies, 0);
    EXPECT_EQ(before.size(), 1000u);
    EXPECT_FALSE(before.contains(1000));
    EXPECT_EQ(before.at(5).v, five);
    EXPECT_EQ(m.at(5).v, -5);
    for (const auto& [k, v] : before) ASSERT_LT(k, 1000);
  }
  Counted::copies = 0;
  for (int i = 1100; i < 2000; ++i) m.insert_or_assign(i, Counted(i));
  m.insert_or_assign(7, Counted(-7));
  EXPECT_EQ(Counted::copies, 0);
  EXPECT_EQ(m.size(), 2000u);
  EXPECT_EQ(m.at(5).v, -5);
  EXPECT_EQ(m.at(7).v, -7);
  EXPECT_LT(m.height(), 1.4405 * std::log2(2000.0 + 2));
}

}  // namespace
}  // namespace kpx
