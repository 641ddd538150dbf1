#include "base/page_block.h"

#include <sys/mman.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace kpx {
namespace {

TEST(PageBlockTest, SmallBlocksAreWholePagesAndLargeOnesWholeAlignedHugePages) {
  const PageBlock small = PageBlock::Map(100);
  ASSERT_NE(small.data(), nullptr);
  EXPECT_EQ(small.size(), 4096u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 4096, 0u);
  constexpr size_t kHuge = size_t{2} << 20;
  const PageBlock large = PageBlock::Map(kHuge + 1);
  EXPECT_EQ(large.size(), 2 * kHuge);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large.data()) % kHuge, 0u);
  // Every byte is there to be written, and reads back.
  std::memset(large.data(), 0xab, large.size());
  EXPECT_EQ(large.data()[large.size() - 1], 0xab);
  EXPECT_EQ(PageBlock::Map(0).size(), 4096u);
}

TEST(PageBlockTest, HugePageAtOrAfterRoundsUpToTwoMiB) {
  constexpr uintptr_t kHugeSize = PageBlock::kHugePageSize;
  auto at = [](uintptr_t a) { return reinterpret_cast<unsigned char*>(a); };
  EXPECT_EQ(PageBlock::HugePageAtOrAfter(at(3 * kHugeSize)), at(3 * kHugeSize));
  EXPECT_EQ(PageBlock::HugePageAtOrAfter(at(3 * kHugeSize + 1)), at(4 * kHugeSize));
  EXPECT_EQ(PageBlock::HugePageAtOrAfter(at(4 * kHugeSize - 1)), at(4 * kHugeSize));
}

TEST(PageBlockTest, MovesHandTheMappingOver) {
  PageBlock a = PageBlock::Map(8192);
  unsigned char* at = a.data();
  at[0] = 7;
  PageBlock b = std::move(a);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data(), at);
  EXPECT_EQ(b.data()[0], 7);
  PageBlock c = PageBlock::Map(4096);
  c = std::move(b);  // c's own mapping is unmapped
  EXPECT_EQ(c.data(), at);
  c = PageBlock();
  EXPECT_EQ(c.data(), nullptr);
}

// A block's pages moved into another mapping bring their bytes along, leave the block empty, and
// leave the rest of that mapping as it was.
TEST(PageBlockTest, MoveToHandsThePagesToAnotherMapping) {
  constexpr size_t kHuge = PageBlock::kHugePageSize;
  PageBlock block = PageBlock::Map(2 * kHuge);
  for (size_t i = 0; i < block.size(); ++i) block.data()[i] = static_cast<unsigned char>(i * 7);
  unsigned char* table = PageBlock::MapPages(4 * kHuge);
  std::memset(table, 0xab, 4 * kHuge);
  ASSERT_TRUE(block.MoveTo(table + kHuge));
  EXPECT_EQ(block.data(), nullptr);
  EXPECT_EQ(block.size(), 0u);
  for (size_t i = 0; i < 2 * kHuge; i += 4093) {
    ASSERT_EQ(table[kHuge + i], static_cast<unsigned char>(i * 7)) << i;
  }
  EXPECT_EQ(table[kHuge - 1], 0xab);
  EXPECT_EQ(table[3 * kHuge], 0xab);
  EXPECT_FALSE(block.MoveTo(table)) << "nothing left to move";
  PageBlock::UnmapPages(table, 4 * kHuge);  // the moved pages go with the mapping
}

TEST(PageBlockTest, PopulatingHeapMemoryLeavesItsBytesAlone) {
  std::vector<unsigned char> v(5 << 20, 3);
  PageBlock::Populate(v.data(), v.size());
  PageBlock::Populate(v.data() + 1, 10);  // less than a page: nothing to populate
  for (size_t i = 0; i < v.size(); i += 4093) ASSERT_EQ(v[i], 3) << i;
}

// A heap vector's storage advised to huge pages and faulted in: every page of it present after,
// its bytes as they were, and a range not on 2 MiB boundaries taken as it is.
TEST(PageBlockTest, PopulatingHugeFaultsInTheRangeAndLeavesItsBytesAlone) {
  constexpr size_t kPage = 4096;
  unsigned char* m = PageBlock::MapPages(4 * PageBlock::kHugePageSize);
  unsigned char* first = m + 3 * kPage;
  const size_t bytes = 3 * PageBlock::kHugePageSize;
  first[0] = 7;
  first[bytes - 1] = 9;
  PageBlock::PopulateHuge(first, bytes);
  std::vector<unsigned char> present(bytes / kPage);
  ASSERT_EQ(mincore(first, bytes, present.data()), 0);
  EXPECT_EQ(std::count_if(present.begin(), present.end(), [](unsigned char p) { return p & 1; }),
            static_cast<std::ptrdiff_t>(present.size()));
  EXPECT_EQ(first[0], 7);
  EXPECT_EQ(first[bytes - 1], 9);
  EXPECT_EQ(first[bytes / 2], 0);
  PageBlock::UnmapPages(m, 4 * PageBlock::kHugePageSize);

  std::vector<unsigned char> v(5 << 20, 3);
  PageBlock::PopulateHuge(v.data(), v.size());
  for (size_t i = 0; i < v.size(); i += 4093) ASSERT_EQ(v[i], 3) << i;
}

TEST(PageBlockTest, ArenaBlocksDoubleUpToTheLargest) {
  constexpr size_t kFirst = size_t{64} << 10;
  constexpr size_t kLargest = size_t{2} << 20;
  EXPECT_EQ(PageBlock::GrowingSize(0, kFirst, kLargest), kFirst);
  EXPECT_EQ(PageBlock::GrowingSize(1, kFirst, kLargest), 2 * kFirst);
  EXPECT_EQ(PageBlock::GrowingSize(5, kFirst, kLargest), kLargest);
  // However many blocks were made (a shift by the count wrapped to 0 from the 48th block on).
  EXPECT_EQ(PageBlock::GrowingSize(6, kFirst, kLargest), kLargest);
  EXPECT_EQ(PageBlock::GrowingSize(1000, kFirst, kLargest), kLargest);
}

TEST(PageBlockTest, PagesMappedForAnAllocatorAreAlignedAndWhole) {
  constexpr size_t kHuge = size_t{2} << 20;
  EXPECT_EQ(PageBlock::RoundedSize(1), 4096u);
  EXPECT_EQ(PageBlock::RoundedSize(kHuge - 1), kHuge);
  EXPECT_EQ(PageBlock::RoundedSize(kHuge + 1), 2 * kHuge);
  unsigned char* p = PageBlock::MapPages(3 * kHuge + 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHuge, 0u);
  std::memset(p, 1, PageBlock::RoundedSize(3 * kHuge + 5));
  PageBlock::UnmapPages(p, 3 * kHuge + 5);
}

}  // namespace
}  // namespace kpx
