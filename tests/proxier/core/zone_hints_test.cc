#include "proxier/core/zone_hints.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace kpx {
namespace {

TEST(ZoneHintsTest, ContainsWholeZoneNamesOnly) {
  const ZoneHints hints{"us-east-1a", "us-east-1b"};
  EXPECT_FALSE(hints.empty());
  EXPECT_TRUE(hints.Contains("us-east-1a"));
  EXPECT_TRUE(hints.Contains("us-east-1b"));
  EXPECT_FALSE(hints.Contains("us-east-1"));    // a prefix of a name
  EXPECT_FALSE(hints.Contains("east-1a"));      // a suffix of a name
  EXPECT_FALSE(hints.Contains("us-east-1a,"));  // across the separator
  EXPECT_FALSE(hints.Contains(""));
}

TEST(ZoneHintsTest, EmptyAndEquality) {
  const ZoneHints none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.Contains(""));
  EXPECT_TRUE(ZoneHints(std::vector<std::string>{}).empty());
  EXPECT_EQ(ZoneHints({"a", "b"}), ZoneHints({"a", "b"}));
  EXPECT_NE(ZoneHints({"a", "b"}), ZoneHints({"b", "a"}));  // order is the slice's
  EXPECT_NE(ZoneHints({"a"}), none);
}

// Lists are numbered in a table of chunks; more lists than one chunk holds (1 024), made on
// several threads, each still reads back as its own zones.
TEST(ZoneHintsTest, ManyDistinctListsKeepTheirZones) {
  static_assert(sizeof(ZoneHints) == 4);
  std::vector<std::thread> threads;
  std::vector<std::vector<ZoneHints>> made(3);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([t, &made] {
      for (int i = 0; i < 1500; ++i) {
        made[t].push_back(ZoneHints({"zh-" + std::to_string(i), "t" + std::to_string(t)}));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < 1500; ++i) {
      const ZoneHints& h = made[t][i];
      ASSERT_TRUE(h.Contains("zh-" + std::to_string(i))) << t << " " << i;
      ASSERT_TRUE(h.Contains("t" + std::to_string(t)));
      ASSERT_FALSE(h.Contains("zh-" + std::to_string(i + 1)));
      ASSERT_EQ(h, ZoneHints({"zh-" + std::to_string(i), "t" + std::to_string(t)}));
    }
  }
  EXPECT_NE(made[0][7], made[1][7]);
}

}  // namespace
}  // namespace kpx
