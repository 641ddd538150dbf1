#include "base/slot_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace kpx {
namespace {

// Slots hold numbers; a deliberately poor hash (the number modulo 7) makes long probe runs, so
// the erase path's backward shifts are exercised across wrap-arounds and growths.
struct Numbers {
  std::vector<uint64_t> values;  // by slot
  SlotIndex index;
  static size_t Hash(uint64_t v) { return v % 7 * 0x9e3779b97f4a7c15 >> 40; }
  size_t Position(uint64_t v) const {
    return index.Find(Hash(v), [&](uint32_t slot) { return values[slot] == v; });
  }
  bool Contains(uint64_t v) const {
    return index.ready() && index.at(Position(v)) != SlotIndex::kEmpty;
  }
  void Add(uint64_t v) {
    index.Reserve([&](uint32_t slot) { return Hash(values[slot]); });
    values.push_back(v);
    index.Insert(Position(v), static_cast<uint32_t>(values.size() - 1));
  }
  void Remove(uint64_t v) {
    index.Erase(Position(v), [&](uint32_t slot) { return Hash(values[slot]); });
  }
};

TEST(SlotIndexTest, EmptyFindsNothing) {
  Numbers n;
  EXPECT_FALSE(n.index.ready());
  EXPECT_EQ(n.index.size(), 0u);
  EXPECT_FALSE(n.Contains(3));
  n.Add(3);
  EXPECT_TRUE(n.Contains(3));
  EXPECT_FALSE(n.Contains(10));  // same hash, other value
  n.Remove(3);
  EXPECT_FALSE(n.Contains(3));
  EXPECT_EQ(n.index.size(), 0u);
}

TEST(SlotIndexTest, AgreesWithASetThroughChurn) {
  Numbers n;
  std::set<uint64_t> model;
  std::mt19937 rng(7);
  for (int step = 0; step < 30000; ++step) {
    const uint64_t v = rng() % 2000;
    if (model.insert(v).second) {
      n.Add(v);
    } else {
      n.Remove(v);
      model.erase(v);
    }
    ASSERT_EQ(n.index.size(), model.size());
    if (step % 1009 == 0) {
      for (uint64_t x = 0; x < 2000; ++x) ASSERT_EQ(n.Contains(x), model.contains(x)) << x;
    }
  }
}

}  // namespace
}  // namespace kpx
