#include "base/page_populator.h"

#include <sys/mman.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "base/page_block.h"

namespace kpx {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kHuge = PageBlock::kHugePageSize;

// Pages of [data, data + size) the kernel has present.
size_t Resident(const unsigned char* data, size_t size) {
  std::vector<unsigned char> vec((size + kPage - 1) / kPage);
  if (mincore(const_cast<unsigned char*>(data), size, vec.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

TEST(PagePopulatorTest, FaultsInEveryRangeAndNothingElse) {
  unsigned char* m = PageBlock::MapPages(8 * kHuge);
  ASSERT_EQ(Resident(m, 8 * kHuge), 0u);
  // Two ranges, neither on a 2 MiB boundary at both ends; the stretch between them untouched.
  std::vector<PagePopulator::Range> ranges = {{m + kPage, 3 * kHuge},
                                              {m + 5 * kHuge, kHuge + 3 * kPage}};
  {
    PagePopulator p(ranges);
    p.Wait();
    EXPECT_EQ(p.populated(), 3 * kHuge + kHuge + 3 * kPage);
  }
  // Huge pages (where the kernel gives them) may bring neighbours of a range along; the ranges
  // themselves are present in full.
  EXPECT_EQ(Resident(m + kPage, 3 * kHuge), 3 * kHuge / kPage);
  EXPECT_EQ(Resident(m + 5 * kHuge, kHuge + 3 * kPage), (kHuge + 3 * kPage) / kPage);
  EXPECT_EQ(Resident(m + 7 * kHuge, kHuge), 0u);
  PageBlock::UnmapPages(m, 8 * kHuge);
}

TEST(PagePopulatorTest, LeavesWhatIsWrittenAsItIs) {
  unsigned char* m = PageBlock::MapPages(4 * kHuge);
  // Written before and while the thread runs: populating only ever makes a page present.
  std::memset(m, 0x5a, kHuge);
  PagePopulator p({{m, 4 * kHuge}});
  std::memset(m + 3 * kHuge, 0xa5, kHuge);
  p.Wait();
  for (size_t i = 0; i < kHuge; i += 997) {
    ASSERT_EQ(m[i], 0x5a) << i;
    ASSERT_EQ(m[3 * kHuge + i], 0xa5) << i;
  }
  EXPECT_EQ(m[2 * kHuge], 0) << "fresh pages read as zero";
  PageBlock::UnmapPages(m, 4 * kHuge);
}

TEST(PagePopulatorTest, StopsEarlyAndNothingToDoStartsNoThread) {
  unsigned char* m = PageBlock::MapPages(64 * kHuge);
  PagePopulator p({{m, 64 * kHuge}});
  p.Stop();  // wherever the thread was: it stops at a step's end
  EXPECT_LE(p.populated(), 64 * kHuge);
  EXPECT_EQ(p.populated() % kHuge, 0u) << "whole steps of an aligned range";
  p.Stop();  // twice is fine
  PageBlock::UnmapPages(m, 64 * kHuge);

  PagePopulator none({{m, 0}});
  none.Wait();
  EXPECT_EQ(none.populated(), 0u);
}

}  // namespace
}  // namespace kpx
