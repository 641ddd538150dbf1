#include "proxier/netfilter/xt_rules.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace kpx {
namespace {

std::vector<XtRule> All(const XtRules& rules) {
  std::vector<XtRule> out;
  for (std::span<const unsigned char> r : rules) out.emplace_back(r.begin(), r.end());
  return out;
}

TEST(XtRulesTest, KeepsRulesInOrderBackToBack) {
  XtRules rules{{1, 2, 3}, {4}};
  rules.Append(XtRule{5, 6});
  rules.Prepend(XtRule{0});
  EXPECT_EQ(All(rules), (std::vector<XtRule>{{0}, {1, 2, 3}, {4}, {5, 6}}));
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(XtRule(rules[2].begin(), rules[2].end()), XtRule{4});
  // One buffer, each rule behind its 8-byte header and kept 8-byte aligned as the table's
  // entries are: a rule of 3 bytes takes 16.
  EXPECT_EQ(rules[2].data(), rules[1].data() + 16);
  for (std::span<const unsigned char> r : rules) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(r.data()) % 8, 0u);
  }
  rules.clear();
  EXPECT_TRUE(rules.empty());
  EXPECT_EQ(rules.begin(), rules.end());
}

TEST(XtRulesTest, CompactKeepsTheRules) {
  XtRules rules;
  for (unsigned char i = 0; i < 9; ++i) rules.Append(XtRule(100, i));
  rules.Compact();
  ASSERT_EQ(rules.size(), 9u);
  for (unsigned char i = 0; i < 9; ++i)
    EXPECT_EQ(XtRule(rules[i].begin(), rules[i].end()), XtRule(100, i));
}

TEST(XtRulesTest, AnEncodingThatFailsLeavesNothingBehind) {
  XtRules rules;
  EXPECT_TRUE(rules.AppendEncoded([](std::vector<unsigned char>& out) {
    out.push_back(7);
    return true;
  }));
  EXPECT_FALSE(rules.AppendEncoded([](std::vector<unsigned char>& out) {
    out.push_back(8);
    out.push_back(9);
    return false;
  }));
  EXPECT_TRUE(rules.AppendEncoded([](std::vector<unsigned char>& out) {
    out.push_back(10);
    return true;
  }));
  EXPECT_EQ(All(rules), (std::vector<XtRule>{{7}, {10}}));
  EXPECT_EQ(All(XtRules(std::vector<XtRule>{{1}, {}, {2}})), (std::vector<XtRule>{{1}, {}, {2}}));
}

TEST(XtRulesTest, ChainsFillingAnArenaInTurnKeepTheirOwnRules) {
  XtRuleArena arena;
  XtRules a(&arena), b(&arena);
  a.Append(XtRule(40, 1));
  a.Append(XtRule(40, 2));
  const unsigned char* first = a[0].data();
  a.Append(XtRule(40, 3));
  // Appended while it is the arena's last region: it grows in place.
  EXPECT_EQ(a[0].data(), first);
  b.Append(XtRule(24, 9));
  // a is no longer last: its rules move on, b's stay.
  a.Append(XtRule(40, 4));
  EXPECT_EQ(All(a),
            (std::vector<XtRule>{XtRule(40, 1), XtRule(40, 2), XtRule(40, 3), XtRule(40, 4)}));
  EXPECT_EQ(All(b), (std::vector<XtRule>{XtRule(24, 9)}));
  EXPECT_NE(a[0].data(), first);
  // More than a block holds (and one rule larger than the first block).
  XtRules big(&arena);
  for (int i = 0; i < 3000; ++i) big.Append(XtRule(200, static_cast<unsigned char>(i)));
  big.Append(XtRule(100000, 7));
  ASSERT_EQ(big.size(), 3001u);
  for (int i = 0; i < 3000; i += 499) {
    EXPECT_EQ(XtRule(big[i].begin(), big[i].end()), XtRule(200, static_cast<unsigned char>(i)));
  }
  EXPECT_EQ(XtRule(big[3000].begin(), big[3000].end()), XtRule(100000, 7));
  EXPECT_GE(arena.mapped(), 3000u * 208 + 100008);
  EXPECT_EQ(All(a).size(), 4u);  // still intact
}

TEST(XtRulesTest, CopiesOwnTheirRulesAndMovesTakeTheRegion) {
  XtRuleArena arena;
  XtRules a(&arena);
  a.Append(XtRule{1, 2});
  a.Append(XtRule{3});
  XtRules copy = a;
  a.Append(XtRule{4});
  copy.Append(XtRule{5});
  EXPECT_EQ(All(a), (std::vector<XtRule>{{1, 2}, {3}, {4}}));
  EXPECT_EQ(All(copy), (std::vector<XtRule>{{1, 2}, {3}, {5}}));
  XtRules moved = std::move(a);
  EXPECT_EQ(All(moved), (std::vector<XtRule>{{1, 2}, {3}, {4}}));
  moved.Prepend(XtRule{0});
  EXPECT_EQ(All(moved), (std::vector<XtRule>{{0}, {1, 2}, {3}, {4}}));
  moved.clear();
  EXPECT_TRUE(moved.empty());
  moved.Append(XtRule{6});
  EXPECT_EQ(All(moved), (std::vector<XtRule>{{6}}));
}

}  // namespace
}  // namespace kpx
