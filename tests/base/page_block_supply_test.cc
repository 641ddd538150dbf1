#include "base/page_block_supply.h"

#include <cstring>

#include <gtest/gtest.h>

namespace kpx {
namespace {

constexpr size_t kHuge = PageBlock::kHugePageSize;

TEST(PageBlockSupplyTest, HandsOutTheBlockMadeAheadWhenItIsLargeEnough) {
  PageBlockSupply supply;
  PageBlock first = supply.Take(100, 4 * kHuge);
  EXPECT_EQ(first.size(), 4096u);
  EXPECT_EQ(supply.made_ahead(), 0u);
  PageBlock second = supply.Take(3 * kHuge, 4 * kHuge);
  EXPECT_EQ(second.size(), 4 * kHuge) << "the block made ahead, larger than asked";
  EXPECT_EQ(supply.made_ahead(), 1u);
  // Too small for what is asked now: made now, and the one ahead freed.
  PageBlock third = supply.Take(5 * kHuge, 0);
  EXPECT_EQ(third.size(), 5 * kHuge);
  EXPECT_EQ(supply.made_ahead(), 1u);
  PageBlock fourth = supply.Take(kHuge, 0);
  EXPECT_EQ(fourth.size(), kHuge) << "nothing was asked ahead";
  EXPECT_EQ(supply.made_ahead(), 1u);
  // Each is memory of its own, writable whole.
  for (PageBlock* b : {&first, &second, &third, &fourth}) {
    std::memset(b->data(), 0x33, b->size());
    EXPECT_EQ(b->data()[b->size() - 1], 0x33);
  }
  EXPECT_NE(second.data(), third.data());
}

TEST(PageBlockSupplyTest, ABlockStillInTheMakingIsWaitedForAndFreed) {
  // Destroyed right after asking: the block ahead is waited for, then unmapped (ASan and the
  // leak check see to the rest).
  PageBlockSupply supply;
  PageBlock b = supply.Take(kHuge, 8 * kHuge);
  EXPECT_EQ(b.size(), kHuge);
}

}  // namespace
}  // namespace kpx
