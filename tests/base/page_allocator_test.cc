#include "base/page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace kpx {
namespace {

TEST(PageAllocatorTest, LargeBuffersAreMappingsOfTheirOwnAndKeepTheirBytesAcrossGrowth) {
  constexpr size_t kHuge = size_t{2} << 20;
  std::vector<unsigned char, PageAllocator<unsigned char>> v;
  for (size_t i = 0; i < 3 * kHuge; ++i) v.push_back(static_cast<unsigned char>(i * 7));
  // Grown past 2 MiB: the buffer is an aligned mapping.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kHuge, 0u);
  for (size_t i = 0; i < v.size(); i += 4099) {
    ASSERT_EQ(v[i], static_cast<unsigned char>(i * 7)) << i;
  }
  v.resize(10);
  v.shrink_to_fit();  // back to the heap
  EXPECT_EQ(v[9], static_cast<unsigned char>(63));
}

TEST(PageAllocatorTest, WorksForOtherTypes) {
  struct Counters {
    uint64_t packets, bytes;
  };
  std::vector<Counters, PageAllocator<Counters>> c(300000);
  c.back() = {1, 2};
  EXPECT_EQ(c.back().bytes, 2u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c.data()) % alignof(Counters), 0u);
}

}  // namespace
}  // namespace kpx
