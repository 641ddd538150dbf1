#include "base/counted_ptr.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace kpx {
namespace {

// Counts live instances, so a test can tell when the last holder freed the value.
struct Tracked {
  explicit Tracked(int* live, std::string t) : live_(live), text(std::move(t)) { ++*live_; }
  Tracked(const Tracked& o) : live_(o.live_), text(o.text) { ++*live_; }
  Tracked(Tracked&& o) noexcept : live_(o.live_), text(std::move(o.text)) { ++*live_; }
  ~Tracked() { --*live_; }
  int* live_;
  std::string text;
};

TEST(CountedPtrTest, TheLastHolderFreesTheValue) {
  int live = 0;
  {
    CountedPtr<Tracked> a = CountedPtr<Tracked>::Make(Tracked(&live, "web"));
    EXPECT_EQ(live, 1);
    CountedPtr<Tracked> b = a;
    EXPECT_TRUE(a == b);
    EXPECT_EQ(a.get(), b.get());
    EXPECT_EQ(b->text, "web");
    a.reset();
    EXPECT_FALSE(a);
    EXPECT_TRUE(a == nullptr);
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_EQ(live, 1) << "b still holds it";
    CountedPtr<Tracked> c = std::move(b);
    EXPECT_FALSE(b);
    EXPECT_EQ((*c).text, "web");
    c = CountedPtr<Tracked>::Make(Tracked(&live, "api"));
    EXPECT_EQ(live, 1) << "the first value went with its last holder";
    EXPECT_EQ(c->text, "api");
  }
  EXPECT_EQ(live, 0);
}

TEST(CountedPtrTest, EqualValuesAreDifferentPointers) {
  int live = 0;
  const auto a = CountedPtr<Tracked>::Make(Tracked(&live, "x"));
  const auto b = CountedPtr<Tracked>::Make(Tracked(&live, "x"));
  EXPECT_FALSE(a == b);
}

TEST(CountedPtrTest, CopiesOnManyThreadsCountExactly) {
  int live = 0;
  auto shared = CountedPtr<Tracked>::Make(Tracked(&live, "shared"));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&shared] {
      for (int i = 0; i < 10000; ++i) {
        CountedPtr<Tracked> copy = shared;
        ASSERT_EQ(copy->text, "shared");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(live, 1);
  shared.reset();
  EXPECT_EQ(live, 0);
}

}  // namespace
}  // namespace kpx
