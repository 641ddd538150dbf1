#include "proxier/netfilter/xt_rules.h"

#include <gtest/gtest.h>

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
  // One buffer: each rule starts where the one before it ends.
  EXPECT_EQ(rules[1].data(), rules[0].data() + 1);
  EXPECT_EQ(rules[3].data(), rules[2].data() + 1);
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
    out.insert(out.end(), {8, 9});
    return false;
  }));
  EXPECT_TRUE(rules.AppendEncoded([](std::vector<unsigned char>& out) {
    out.push_back(10);
    return true;
  }));
  EXPECT_EQ(All(rules), (std::vector<XtRule>{{7}, {10}}));
  EXPECT_EQ(All(XtRules(std::vector<XtRule>{{1}, {}, {2}})), (std::vector<XtRule>{{1}, {}, {2}}));
}

}  // namespace
}  // namespace kpx
