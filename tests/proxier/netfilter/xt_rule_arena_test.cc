#include "proxier/netfilter/xt_rule_arena.h"

#include <gtest/gtest.h>

#include <cstring>

namespace kpx {
namespace {

TEST(XtRuleArenaTest, TheLastRegionGrowsInPlaceAnOlderOneMovesWithItsBytes) {
  XtRuleArena arena;
  unsigned char* a = arena.Grow(nullptr, 0, 16);
  std::memset(a, 1, 16);
  EXPECT_EQ(arena.Grow(a, 16, 16), a);  // still the last region
  std::memset(a + 16, 2, 16);
  unsigned char* b = arena.Grow(nullptr, 0, 8);
  EXPECT_EQ(b, a + 32);  // regions follow one another
  std::memset(b, 3, 8);
  unsigned char* moved = arena.Grow(a, 32, 8);
  ASSERT_NE(moved, a);
  EXPECT_EQ(moved, b + 8);
  EXPECT_EQ(moved[0], 1);
  EXPECT_EQ(moved[31], 2);
  EXPECT_EQ(b[7], 3);  // left where it was
}

TEST(XtRuleArenaTest, ARegionThatOutgrowsItsBlockGoesToABlockLargeEnough) {
  XtRuleArena arena;
  unsigned char* r = arena.Grow(nullptr, 0, 1000);
  std::memset(r, 5, 1000);
  const size_t first = arena.mapped();
  r = arena.Grow(r, 1000, first);  // more than the first block has left
  EXPECT_EQ(r[999], 5);
  std::memset(r + 1000, 6, first);
  EXPECT_GE(arena.mapped(), first + 1000 + first);
  // The next region does not overlap it.
  unsigned char* next = arena.Grow(nullptr, 0, 8);
  EXPECT_FALSE(next >= r && next < r + 1000 + first);
  std::memset(next, 7, 8);
  EXPECT_EQ(r[1000 + first - 1], 6);
}

TEST(XtRuleArenaTest, BlocksAreFoundByAddressAndFreedOneByOne) {
  XtRuleArena arena;
  unsigned char* a = arena.Grow(nullptr, 0, 100);
  unsigned char* b = arena.Grow(nullptr, 0, arena.BlockSize(0));  // does not fit: a second block
  const size_t c_used = 4 * arena.BlockSize(1);
  unsigned char* c = arena.Grow(nullptr, 0, c_used);  // a third
  ASSERT_EQ(arena.blocks(), 3u);
  EXPECT_EQ(arena.BlockOf(a + 99), 0u);
  EXPECT_EQ(arena.BlockOf(b), 1u);
  EXPECT_EQ(arena.BlockOf(c, 1), 2u);  // a wrong hint only costs the search
  const unsigned char outside = 0;
  EXPECT_EQ(arena.BlockOf(&outside), XtRuleArena::kNoBlock);
  const size_t mapped = arena.mapped();
  const size_t second = arena.BlockSize(1);
  arena.Release(1);
  EXPECT_EQ(arena.BlockSize(1), 0u);
  EXPECT_EQ(arena.mapped(), mapped - second);
  EXPECT_EQ(arena.BlockOf(b), XtRuleArena::kNoBlock);
  a[0] = 1;  // the others stay
  c[0] = 2;
  // The last block is where Grow continues: it stays mapped.
  arena.Release(2);
  EXPECT_GT(arena.BlockSize(2), 0u);
  EXPECT_EQ(arena.Grow(c, c_used, 0), c);
}

}  // namespace
}  // namespace kpx
