#include "proxier/netfilter/xt_section_plan.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxier/netfilter/ipt_entry_encoder.h"
#include "tests/support/xt_test_tables.h"

namespace kpx {
namespace {

constexpr IpFamily kV4 = IpFamily::kIPv4;

XtRule Encoded(const std::vector<std::string>& args) {
  auto r = EncodeIptEntry(kV4, args);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : XtRule{};
}

std::vector<XtRule> RulesOf(const XtRules& rules) {
  std::vector<XtRule> out;
  for (std::span<const unsigned char> r : rules) out.emplace_back(r.begin(), r.end());
  return out;
}

// A filter table holding KUBE-OLD (one rule) and KUBE-EMPTY (none) besides the built-in chains.
class XtSectionPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    XtChainEdit old;
    old.name = "KUBE-OLD";
    old.after = XtRules({Encoded({"-s", "10.0.0.9", "-j", "ACCEPT"})});
    XtChainEdit empty;
    empty.name = "KUBE-EMPTY";
    auto edited = xt_test::Edit(kV4, xt_test::EmptyFilter(kV4), {old, empty});
    ASSERT_TRUE(edited.ok()) << edited.status().message();
    held_ = std::move(*edited);
    auto blob = XtTableBlob::Parse(kV4, held_.info, held_.entries);
    ASSERT_TRUE(blob.ok()) << blob.status().message();
    table_ = std::make_unique<XtTableBlob>(std::move(*blob));
  }

  // The plan of `text`, one section, read from `pieces` cut at every line when `per_line`.
  Result<XtSectionPlan::Edits> Plan(const std::string& text, int first_line = 1,
                                    bool per_line = false) {
    text_ = text;
    std::vector<std::string_view> pieces;
    if (per_line) {
      for (size_t at = 0; at < text_.size();) {
        const size_t end = text_.find('\n', at) + 1;
        pieces.push_back(std::string_view(text_).substr(at, end - at));
        at = end;
      }
    } else {
      pieces.push_back(text_);
    }
    auto sections = RestoreSection::Split(pieces);
    EXPECT_TRUE(sections && sections->size() == 1);
    if (!sections || sections->size() != 1) return Status::Error("not one section");
    RestoreSection section = (*sections)[0];
    section.first_line = first_line;
    return XtSectionPlan::Make(kV4, section, *table_, arena_);
  }

  xt_test::Table held_;
  std::unique_ptr<XtTableBlob> table_;
  XtRuleArena arena_;
  std::string text_;
};

TEST_F(XtSectionPlanTest, DeclaredChainsAreFlushedOrCreatedAndFilledInOrder) {
  for (const bool per_line : {false, true}) {
    auto plan = Plan(
        "*filter\n"
        ":KUBE-OLD - [0:0]\n"
        ":KUBE-NEW - [0:0]\n"
        "-A KUBE-NEW -s 10.0.0.1 -j KUBE-OLD\n"
        "-A KUBE-OLD -s 10.0.0.2 -j DROP\n"
        "-A KUBE-NEW -s 10.0.0.3 -j RETURN\n"
        "COMMIT\n",
        1, per_line);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    ASSERT_TRUE(*plan);
    const std::vector<XtChainEdit>& edits = **plan;
    ASSERT_EQ(edits.size(), 2u);
    EXPECT_EQ(edits[0].name, "KUBE-OLD");
    EXPECT_FALSE(edits[0].keep_rules);
    EXPECT_FALSE(edits[0].remove);
    EXPECT_EQ(RulesOf(edits[0].after),
              (std::vector<XtRule>{Encoded({"-s", "10.0.0.2", "-j", "DROP"})}));
    EXPECT_EQ(edits[1].name, "KUBE-NEW");
    EXPECT_FALSE(edits[1].keep_rules);
    EXPECT_EQ(RulesOf(edits[1].after),
              (std::vector<XtRule>{Encoded({"-s", "10.0.0.1", "-j", "KUBE-OLD"}),
                                   Encoded({"-s", "10.0.0.3", "-j", "RETURN"})}));
    EXPECT_TRUE(edits[1].before.empty());
  }
}

// --noflush: a chain that is not declared keeps its rules; -I goes ahead of them, last first.
TEST_F(XtSectionPlanTest, UndeclaredChainsKeepTheirRulesAndInsertsGoFirst) {
  auto plan = Plan(
      "*filter\n"
      "-I KUBE-OLD -s 10.0.0.1 -j DROP\n"
      "-A KUBE-OLD -s 10.0.0.2 -j DROP\n"
      "-I KUBE-OLD -s 10.0.0.3 -j DROP\n"
      "COMMIT\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_TRUE(*plan);
  ASSERT_EQ((*plan)->size(), 1u);
  const XtChainEdit& e = (**plan)[0];
  EXPECT_TRUE(e.keep_rules);
  EXPECT_EQ(RulesOf(e.before), (std::vector<XtRule>{Encoded({"-s", "10.0.0.3", "-j", "DROP"}),
                                                    Encoded({"-s", "10.0.0.1", "-j", "DROP"})}));
  EXPECT_EQ(RulesOf(e.after), (std::vector<XtRule>{Encoded({"-s", "10.0.0.2", "-j", "DROP"})}));
}

TEST_F(XtSectionPlanTest, FlushDeleteAndCreateThenDelete) {
  auto plan = Plan(
      "*filter\n"
      "-F KUBE-OLD\n"
      "-X KUBE-OLD\n"
      "-X KUBE-EMPTY\n"
      "-N KUBE-BRIEF\n"
      "-A KUBE-BRIEF -j DROP\n"
      "-F KUBE-BRIEF\n"
      "-X KUBE-BRIEF\n"
      "COMMIT\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_TRUE(*plan);
  // KUBE-BRIEF was created and deleted again: nothing to do in the table.
  ASSERT_EQ((*plan)->size(), 2u);
  for (const XtChainEdit& e : **plan) {
    EXPECT_TRUE(e.remove) << e.name;
    EXPECT_TRUE(e.after.empty() && e.before.empty()) << e.name;
  }
  EXPECT_EQ((**plan)[0].name, "KUBE-OLD");
  EXPECT_EQ((**plan)[1].name, "KUBE-EMPTY");
}

// Left to libiptc, which takes what the blob edit does not: built-in chains, single-rule
// deletes, and a declaration after a command (iptables-restore flushes the rules before it).
TEST_F(XtSectionPlanTest, WhatOnlyLibiptcAppliesIsLeftToIt) {
  for (const std::string body : {
           ":INPUT ACCEPT [0:0]\n",
           "-A INPUT -j KUBE-OLD\n",
           "-I OUTPUT -j KUBE-OLD\n",
           "-D KUBE-OLD -s 10.0.0.9 -j ACCEPT\n",
           ":KUBE-NEW - [0:0]\n-A KUBE-NEW -j DROP\n:KUBE-OTHER - [0:0]\n",
       }) {
    auto plan = Plan("*filter\n" + body + "COMMIT\n");
    ASSERT_TRUE(plan.ok()) << body << plan.status().message();
    EXPECT_FALSE(*plan) << body;
  }
}

// Errors name the table and the line in the whole input, as iptables-restore's do.
TEST_F(XtSectionPlanTest, ErrorsNameTheLineInTheWholeInput) {
  struct Case {
    std::string body;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"-A KUBE-NONE -j DROP\n", "line 11: KUBE-NONE: no such chain"},
           {"-N KUBE-OLD\n", "line 11: create KUBE-OLD: chain exists"},
           {"-X KUBE-OLD\n", "line 11: delete KUBE-OLD: chain is not empty"},
           {"-A KUBE-OLD -m owner -j DROP\n", "line 11: "},
           {"-A KUBE-OLD -s not-an-address -j DROP\n", "line 11: bad address not-an-address"},
           {"-Q KUBE-OLD\n", "line 11: unsupported command -Q"},
       }) {
    auto plan = Plan("*filter\n" + c.body + "COMMIT\n", 10);
    ASSERT_FALSE(plan.ok()) << c.body;
    EXPECT_NE(plan.status().message().find("x_tables filter: "), std::string::npos)
        << plan.status().message();
    EXPECT_NE(plan.status().message().find(c.says), std::string::npos)
        << plan.status().message() << " lacks " << c.says;
  }
}

// The rules are encoded into the arena given, which the table's layout then frees block by
// block: a full sync's 320 000 rules take no heap block each.
TEST_F(XtSectionPlanTest, RulesAreEncodedIntoTheArena) {
  std::string text = "*filter\n:KUBE-NEW - [0:0]\n";
  for (int i = 0; i < 2000; ++i) {
    text += "-A KUBE-NEW -s 10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
            " -j DROP\n";
  }
  auto plan = Plan(text + "COMMIT\n");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_TRUE(*plan);
  const XtRules& rules = (**plan)[0].after;
  ASSERT_EQ(rules.size(), 2000u);
  EXPECT_NE(arena_.BlockOf((*rules.begin()).data()), XtRuleArena::kNoBlock);
  EXPECT_GT(arena_.mapped(), 0u);
  EXPECT_EQ(RulesOf(rules)[1999], Encoded({"-s", "10.0.7.249", "-j", "DROP"}));
}

}  // namespace
}  // namespace kpx
