#include "base/interned_string.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace kpx {
namespace {

TEST(InternedStringTest, EqualTextSharesOneCopy) {
  const std::string built = std::string("node-") + "7";
  InternedString a = built;
  InternedString b("node-7");
  InternedString c(std::string_view("node-77").substr(0, 6));
  EXPECT_EQ(&a.str(), &b.str());
  EXPECT_EQ(&a.str(), &c.str());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "node-7");
  EXPECT_EQ(a, built);
  EXPECT_EQ(built, a);
  EXPECT_NE(a, InternedString("node-8"));
  EXPECT_NE(a, "node-");
}

TEST(InternedStringTest, DefaultIsEmptyAndOrdersByText) {
  InternedString empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty, InternedString(""));
  EXPECT_EQ(&empty.str(), &InternedString(std::string()).str());
  // Interned in the opposite order from the text order: the order is the text's.
  InternedString z("zone-z-interned-first");
  InternedString a("zone-a-interned-second");
  std::set<InternedString> sorted{z, a};
  EXPECT_EQ(sorted.begin()->str(), "zone-a-interned-second");
  EXPECT_LT(a, z);
  std::ostringstream os;
  os << a << "|" << ("x" + z);
  EXPECT_EQ(os.str(), "zone-a-interned-second|xzone-z-interned-first");
  EXPECT_EQ(a.size(), 22u);
}

TEST(InternedStringTest, ConcurrentInterningAgreesOnOneCopy) {
  std::vector<const std::string*> seen(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&seen, t] {
      for (int i = 0; i < 1000; ++i) InternedString("spread-" + std::to_string(i));
      seen[t] = &InternedString("shared-by-threads").str();
    });
  }
  for (auto& th : threads) th.join();
  for (const std::string* p : seen) EXPECT_EQ(p, seen[0]);
}

}  // namespace
}  // namespace kpx
