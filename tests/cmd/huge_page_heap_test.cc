#include "cmd/huge_page_heap.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace kpx {
namespace {

TEST(HugePageHeapTest, AddsTheTunableWhenNoneIsGiven) {
  EXPECT_EQ(TunablesWithHugePageHeap(nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithHugePageHeap(""), "glibc.malloc.hugetlb=1");
}

TEST(HugePageHeapTest, KeepsTheOperatorsOtherTunables) {
  EXPECT_EQ(TunablesWithHugePageHeap("glibc.malloc.arena_max=1"),
            "glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithHugePageHeap("glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=9"),
            "glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=9:glibc.malloc.hugetlb=1");
}

TEST(HugePageHeapTest, LeavesTheOperatorsOwnChoiceAlone) {
  EXPECT_EQ(TunablesWithHugePageHeap("glibc.malloc.hugetlb=0"), std::nullopt);
  EXPECT_EQ(TunablesWithHugePageHeap("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2"),
            std::nullopt);
  EXPECT_EQ(TunablesWithHugePageHeap("glibc.malloc.hugetlb=1:glibc.malloc.arena_max=2"),
            std::nullopt);
}

TEST(HugePageHeapTest, ANameThatOnlyStartsTheSameIsAnotherTunable) {
  EXPECT_EQ(TunablesWithHugePageHeap("glibc.malloc.hugetlbx=1"),
            "glibc.malloc.hugetlbx=1:glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithHugePageHeap("x.glibc.malloc.hugetlb=1"),
            "x.glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=1");
}

// The image started again finds the marker, removes it (kpx's children must not inherit it) and
// does not start itself once more, whatever the environment's GLIBC_TUNABLES says.
TEST(HugePageHeapTest, TheReexecutedImageDoesNotStartAgain) {
  ASSERT_EQ(setenv("KPX_HUGE_PAGE_HEAP_REEXEC", "1", 1), 0);
  const char* saved = std::getenv("GLIBC_TUNABLES");
  const std::string before = saved == nullptr ? "" : saved;
  unsetenv("GLIBC_TUNABLES");
  char name[] = "huge_page_heap_test";
  char* argv[] = {name, nullptr};
  EXPECT_EQ(ReexecWithHugePageHeap(argv), "");
  EXPECT_EQ(std::getenv("KPX_HUGE_PAGE_HEAP_REEXEC"), nullptr);
  EXPECT_EQ(std::getenv("GLIBC_TUNABLES"), nullptr);
  if (saved != nullptr) setenv("GLIBC_TUNABLES", before.c_str(), 1);
}

}  // namespace
}  // namespace kpx
