#include "base/pooled_string.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kpx {
namespace {

TEST(PooledStringTest, EqualTextSharesOneCopy) {
  const std::string built = std::string("svc-") + "7";
  PooledString a = built;
  PooledString b("svc-7");
  PooledString c(std::string_view("svc-77").substr(0, 5));
  EXPECT_EQ(&a.str(), &b.str());
  EXPECT_EQ(&a.str(), &c.str());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "svc-7");
  EXPECT_EQ(a, built);
  EXPECT_NE(a, PooledString("svc-8"));
  EXPECT_EQ(a + "/x", "svc-7/x");
  EXPECT_EQ("x/" + a, "x/svc-7");
}

TEST(PooledStringTest, TheLastHolderFreesTheText) {
  const size_t before = PooledString::PoolSize();
  {
    PooledString a("pooled-test-only-name");
    EXPECT_EQ(PooledString::PoolSize(), before + 1);
    PooledString copy = a;
    PooledString moved = std::move(copy);
    PooledString again("pooled-test-only-name");
    EXPECT_EQ(PooledString::PoolSize(), before + 1);
    a = PooledString();
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(moved, again);
    moved = again;  // self-share: still one text
    EXPECT_EQ(PooledString::PoolSize(), before + 1);
  }
  EXPECT_EQ(PooledString::PoolSize(), before);
  // Made again after it was freed: a new, working copy.
  PooledString revived("pooled-test-only-name");
  EXPECT_EQ(revived.str(), "pooled-test-only-name");
  EXPECT_EQ(PooledString::PoolSize(), before + 1);
}

TEST(PooledStringTest, EmptyIsFreeAndOrdersByText) {
  const size_t before = PooledString::PoolSize();
  PooledString empty, from_text(""), from_string{std::string()};
  EXPECT_EQ(PooledString::PoolSize(), before);
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty, from_text);
  EXPECT_EQ(empty, from_string);
  EXPECT_EQ(empty.str(), "");
  // Made in the opposite order from the text order: the order is the text's.
  PooledString z("ns-z-pooled-first");
  PooledString a("ns-a-pooled-second");
  std::set<PooledString> sorted{z, a, empty};
  ASSERT_EQ(sorted.size(), 3u);
  EXPECT_TRUE(sorted.begin()->empty());
  EXPECT_EQ(std::next(sorted.begin())->str(), "ns-a-pooled-second");
  EXPECT_LT(a, z);
  EXPECT_EQ(a <=> PooledString("ns-a-pooled-second"), std::strong_ordering::equal);
}

// Threads making, copying and dropping the same few texts: every value reads back its own text
// and the pool ends where it started (run under TSan and ASan by scripts/test.sh).
TEST(PooledStringTest, ConcurrentHoldersAgree) {
  const size_t before = PooledString::PoolSize();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string text = "pooled-race-" + std::to_string((i + t) % 5);
        PooledString a(text);
        PooledString b = a;
        PooledString c(text);
        ASSERT_EQ(b, c);
        ASSERT_EQ(c.str(), text);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(PooledString::PoolSize(), before);
}

TEST(PooledStringTest, HashAgreesWithEquality) {
  const std::string built = std::string("svc-") + "hash";
  EXPECT_EQ(PooledString(built).Hash(), PooledString("svc-hash").Hash());
  EXPECT_EQ(PooledString().Hash(), PooledString("").Hash());
  const PooledString a("svc-hash");
  const PooledString copy = a;
  EXPECT_EQ(copy.Hash(), a.Hash());
  EXPECT_NE(PooledString("svc-other").Hash(), a.Hash());  // distinct addresses
}

}  // namespace
}  // namespace kpx
