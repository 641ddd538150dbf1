#include "base/small_string.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace kpx {
namespace {

TEST(SmallStringTest, HoldsEveryLengthAcrossTheInlineLimit) {
  static_assert(sizeof(SmallString) == 16);
  EXPECT_TRUE(SmallString().empty());
  EXPECT_EQ(SmallString().view(), "");
  for (size_t n : {size_t{0}, size_t{1}, SmallString::kInline - 1, SmallString::kInline,
                   SmallString::kInline + 1, size_t{63}, size_t{300}}) {
    std::string text;
    for (size_t i = 0; i < n; ++i) text.push_back(static_cast<char>('a' + i % 26));
    const SmallString s(text);
    EXPECT_EQ(s.view(), text) << n;
    EXPECT_EQ(s.size(), n);
    EXPECT_EQ(s.empty(), n == 0);
    // Copies and moves hold the same text, and the source of a move is left empty.
    SmallString copy = s;
    EXPECT_EQ(copy, s);
    SmallString moved = std::move(copy);
    EXPECT_EQ(moved.view(), text);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): specified above
  }
}

TEST(SmallStringTest, AssignmentsReplaceInlineAndHeapTexts) {
  const std::string long_text(40, 'x');
  SmallString a("short");
  SmallString b(long_text);
  a = b;
  EXPECT_EQ(a.view(), long_text);
  b = SmallString("tiny");
  EXPECT_EQ(b.view(), "tiny");
  EXPECT_EQ(a.view(), long_text);
  a = std::move(b);
  EXPECT_EQ(a.view(), "tiny");
  SmallString& self = a;
  a = self;
  EXPECT_EQ(a.view(), "tiny");
  std::vector<SmallString> many(3, SmallString(long_text));
  many.emplace_back("grow");  // moves the others
  EXPECT_EQ(many[0].view(), long_text);
  EXPECT_EQ(many[3].view(), "grow");
}

TEST(SmallStringTest, ComparesAsStdStringDoes) {
  const std::vector<std::string> texts = {"",
                                          "a",
                                          "ab",
                                          "b",
                                          "web-00000000000",
                                          "web-000000000000",
                                          "web-0000000000001",
                                          std::string("\xff", 1)};
  for (const std::string& x : texts) {
    for (const std::string& y : texts) {
      const SmallString sx(x);
      const SmallString sy(y);
      EXPECT_EQ(sx == sy, x == y) << x << " " << y;
      EXPECT_EQ(sx < sy, x < y) << x << " " << y;
      EXPECT_EQ(sx == std::string_view(y), x == y);
      EXPECT_EQ(sx < std::string_view(y), x < y);
      EXPECT_EQ(sx == y, x == y);
    }
  }
}

}  // namespace
}  // namespace kpx
