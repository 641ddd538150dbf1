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

TEST(InternedStringTest, NumbersReadBackTheirText) {
  EXPECT_EQ(InternedString().index(), 0u);
  EXPECT_EQ(InternedString("").index(), 0u);
  EXPECT_TRUE(InternedString::AtIndex(0).empty());
  const InternedString a("numbered-a"), b("numbered-b");
  EXPECT_NE(a.index(), 0u);
  EXPECT_NE(a.index(), b.index());
  EXPECT_EQ(InternedString("numbered-a").index(), a.index());
  EXPECT_EQ(InternedString::AtIndex(a.index()), a);
  EXPECT_EQ(InternedString::AtIndex(b.index()).str(), "numbered-b");
  // More texts than one chunk of the directory (1 024) each read back as themselves.
  std::vector<InternedString> made;
  for (int i = 0; i < 1500; ++i) made.emplace_back("numbered-" + std::to_string(i));
  for (int i = 0; i < 1500; ++i) {
    ASSERT_EQ(InternedString::AtIndex(made[i].index()).str(), "numbered-" + std::to_string(i));
  }
}

}  // namespace
}  // namespace kpx
