#include "tests/support/golden.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace kpx::testing {
namespace {

constexpr char kSkeleton[] = R"(*filter
:A - [0:0]
-A A -j LAST
COMMIT
*nat
:B - [0:0]
-A B -j ONE
COMMIT
)";

TEST(ExpandGolden, CaseLinesGoAfterTheSkeletonsDeclarationsAndBeforeItsRulesPerChain) {
  EXPECT_EQ(ExpandGolden(kSkeleton, R"(*filter
:C - [0:0]
-A C -j X
-A A -j FIRST
)"),
            R"(*filter
:A - [0:0]
:C - [0:0]
-A A -j FIRST
-A A -j LAST
-A C -j X
COMMIT
*nat
:B - [0:0]
-A B -j ONE
COMMIT
)");
}

TEST(ExpandGolden, NoOwnLinesIsTheSkeleton) { EXPECT_EQ(ExpandGolden(kSkeleton, ""), kSkeleton); }

TEST(ExpandGolden, LinesThatCannotBePlacedFailInsteadOfVanishing) {
  EXPECT_THROW(ExpandGolden(kSkeleton, "*mangle\n:M - [0:0]\n"), std::invalid_argument);
  EXPECT_THROW(ExpandGolden(kSkeleton, "*filter\n-A UNDECLARED -j X\n"), std::invalid_argument);
  EXPECT_THROW(ExpandGolden(kSkeleton, "*filter\n-X A\n"), std::invalid_argument);
  EXPECT_THROW(ExpandGolden(kSkeleton, "-A A -j X\n"), std::invalid_argument);
  EXPECT_THROW(ExpandGolden(kSkeleton, "*filter\n:A - [0:0]\n"), std::invalid_argument);
}

}  // namespace
}  // namespace kpx::testing
