#include "proxier/core/zone_hints.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace kpx
