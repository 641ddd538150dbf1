// XtTableBlob on tables built here, checked by an independent reader of the kernel's layout
// (Describe): every jump verdict must be the offset of its chain's first rule, every hook entry
// and underflow where its chain starts and ends, sizes and counts what the walk finds.
#include "proxier/netfilter/xt_table_blob.h"

#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "proxier/netfilter/ipt_entry_encoder.h"
#include "tests/support/xt_test_tables.h"

namespace kpx {
namespace {

using namespace xt_test;  // NOLINT: the tables every test here builds

constexpr const char* kHookNames[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};

// Field accessors for either family's entry.
struct EntryView {
  IpFamily family;
  const unsigned char* p;
  uint16_t target_offset() const {
    return family == IpFamily::kIPv4 ? reinterpret_cast<const ipt_entry*>(p)->target_offset
                                     : reinterpret_cast<const ip6t_entry*>(p)->target_offset;
  }
  uint16_t next_offset() const {
    return family == IpFamily::kIPv4 ? reinterpret_cast<const ipt_entry*>(p)->next_offset
                                     : reinterpret_cast<const ip6t_entry*>(p)->next_offset;
  }
  xt_counters counters() const {
    return family == IpFamily::kIPv4 ? reinterpret_cast<const ipt_entry*>(p)->counters
                                     : reinterpret_cast<const ip6t_entry*>(p)->counters;
  }
  // The source address, which the tests use to tell rules apart.
  std::string source() const {
    std::array<uint8_t, 16> b{};
    if (family == IpFamily::kIPv4) {
      std::memcpy(b.data(), &reinterpret_cast<const ipt_entry*>(p)->ip.src, 4);
    } else {
      std::memcpy(b.data(), &reinterpret_cast<const ip6t_entry*>(p)->ipv6.src, 16);
    }
    return IpAddress::FromBytes(family, b).ToString();
  }
  const xt_entry_target* target() const {
    return reinterpret_cast<const xt_entry_target*>(p + target_offset());
  }
  int verdict() const { return reinterpret_cast<const xt_standard_target*>(target())->verdict; }
};

// A rule in libiptc's user form, told apart by its source address.
XtRule Rule(IpFamily f, const std::string& source, const std::string& target) {
  std::vector<std::string> args = {"-s", source};
  if (!target.empty()) {
    args.push_back("-j");
    args.push_back(target);
  }
  if (target == "MARK") {
    args.push_back("--or-mark");
    args.push_back("0x4000");
  }
  auto r = EncodeIptEntry(f, args);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : XtRule{};
}

XtChainEdit Set(const std::string& name, std::vector<XtRule> rules) {
  XtChainEdit e;
  e.name = name;
  e.after = XtRules(rules);
  return e;
}

XtChainEdit Remove(const std::string& name) {
  XtChainEdit e;
  e.name = name;
  e.remove = true;
  return e;
}

// Reads a table the way the kernel lays it out, without XtTableBlob, and describes it one chain a
// line: "NAME: rule rule ... | end", a rule "source>target" where the target is the chain whose
// first rule the verdict points at, a verdict name, "next" (fall through) or an extension's name.
// Anything that does not hold (a verdict into no chain's start, a hook entry or underflow in the
// wrong place, sizes) is reported in the text, so a comparison shows it.
std::string Describe(IpFamily f, const Table& t) {
  struct Walked {
    uint32_t offset;
    EntryView e;
  };
  std::vector<Walked> all;
  for (uint32_t off = 0; off < t.entries.size();) {
    EntryView e{f, t.entries.data() + off};
    all.push_back({off, e});
    if (e.next_offset() == 0) return "zero next_offset";
    off += e.next_offset();
  }
  std::string out;
  if (all.size() != t.info.num_entries) out += "COUNT MISMATCH\n";
  // Chain starts: hooks, then ERROR heads. First rule offsets name the chains for jumps.
  std::map<uint32_t, std::string> first_rule;
  std::map<uint32_t, std::string> starts;
  for (int h = 0; h < 5; ++h) {
    if (t.info.valid_hooks & (1 << h)) {
      starts[t.info.hook_entry[h]] = kHookNames[h];
      first_rule[t.info.hook_entry[h]] = kHookNames[h];
    }
  }
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    if (std::string(all[i].e.target()->u.user.name) == XT_ERROR_TARGET) {
      const auto* et = reinterpret_cast<const xt_error_target*>(all[i].e.target());
      starts[all[i].offset] = et->errorname;
      first_rule[all[i + 1].offset] = et->errorname;
    }
  }
  auto verdict_name = [&](const Walked& w) -> std::string {
    const std::string name = w.e.target()->u.user.name;
    if (!name.empty()) return name;
    const int v = w.e.verdict();
    if (v == -NF_ACCEPT - 1) return "ACCEPT";
    if (v == -NF_DROP - 1) return "DROP";
    if (v == XT_RETURN) return "RETURN";
    if (v == static_cast<int>(w.offset + w.e.next_offset())) return "next";
    auto it = first_rule.find(static_cast<uint32_t>(v));
    return it == first_rule.end() ? "BAD@" + std::to_string(v) : it->second;
  };
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    auto s = starts.find(all[i].offset);
    if (s != starts.end()) {
      if (!out.empty() && out.back() != '\n') out += "\n";
      out += s->second + ":";
      if (std::string(all[i].e.target()->u.user.name) == XT_ERROR_TARGET) continue;
    }
    const bool last_of_chain = starts.contains(all[i + 1].offset) || i + 2 == all.size();
    if (last_of_chain) {
      out += " | " + verdict_name(all[i]);
      for (int h = 0; h < 5; ++h) {
        if ((t.info.valid_hooks & (1 << h)) && t.info.underflow[h] == all[i].offset) {
          out += std::string(" (underflow ") + kHookNames[h] + ")";
        }
      }
    } else {
      out += " " + all[i].e.source() + ">" + verdict_name(all[i]);
    }
  }
  out += "\n";
  return out;
}

// Offset of the first rule of `chain`, found by walking the table.
uint32_t FirstRule(IpFamily f, const Table& t, const std::string& chain) {
  for (uint32_t off = 0; off < t.entries.size();) {
    EntryView e{f, t.entries.data() + off};
    off += e.next_offset();
    if (std::string(e.target()->u.user.name) == XT_ERROR_TARGET &&
        reinterpret_cast<const xt_error_target*>(e.target())->errorname == chain) {
      return off;
    }
  }
  ADD_FAILURE() << "no chain " << chain;
  return 0;
}

// The table with a kernel-form rule jumping to `chain` put first in INPUT: everything from
// there on moves, so every verdict, hook entry and underflow at or after it moves too. Written
// independently of XtTableBlob so the editor is checked on a table it did not lay out.
Table InsertIntoInput(IpFamily f, const Table& t, const std::string& chain) {
  const uint32_t pos = t.info.hook_entry[NF_INET_LOCAL_IN];
  std::vector<unsigned char> rule = KernelStandard(f, static_cast<int>(FirstRule(f, t, chain)));
  const uint32_t shift = static_cast<uint32_t>(rule.size());
  Table out = t;
  out.entries.insert(out.entries.begin() + pos, rule.begin(), rule.end());
  for (uint32_t off = 0; off < out.entries.size();) {
    EntryView e{f, out.entries.data() + off};
    if (std::string(e.target()->u.user.name).empty() && e.verdict() >= static_cast<int>(pos)) {
      reinterpret_cast<xt_standard_target*>(out.entries.data() + off + e.target_offset())
          ->verdict += static_cast<int>(shift);
    }
    off += e.next_offset();
  }
  for (int h = 0; h < 5; ++h) {
    if (out.info.hook_entry[h] > pos) out.info.hook_entry[h] += shift;
    if (out.info.underflow[h] >= pos) out.info.underflow[h] += shift;
  }
  out.info.num_entries += 1;
  out.info.size += shift;
  return out;
}

class XtTableBlobTest : public ::testing::TestWithParam<IpFamily> {
 protected:
  IpFamily f() const { return GetParam(); }
  // Addresses of the family: A(1) is 10.0.0.1 or fd00::1.
  std::string A(int n) const {
    return (f() == IpFamily::kIPv4 ? "10.0.0." : "fd00::") + std::to_string(n);
  }
  // KUBE-A jumps to KUBE-B and KUBE-C, KUBE-B to KUBE-C, INPUT to KUBE-A; FORWARD falls through.
  Table Base() {
    auto t = Edit(f(), EmptyFilter(f()),
                  {Set("KUBE-A", {Rule(f(), A(1), "KUBE-B"), Rule(f(), A(2), "KUBE-C"),
                                  Rule(f(), A(3), "ACCEPT")}),
                   Set("KUBE-B", {Rule(f(), A(4), "KUBE-C"), Rule(f(), A(5), "")}),
                   Set("KUBE-C", {Rule(f(), A(6), "MARK"), Rule(f(), A(7), "RETURN")})});
    EXPECT_TRUE(t.ok()) << t.status().message();
    return *t;
  }
};

TEST_P(XtTableBlobTest, EmptyTableReadsBack) {
  const Table t = EmptyFilter(f());
  EXPECT_EQ(Describe(f(), t),
            "INPUT: | ACCEPT (underflow INPUT)\nFORWARD: | DROP (underflow FORWARD)\n"
            "OUTPUT: | ACCEPT (underflow OUTPUT)\n");
  auto same = Edit(f(), t, {});
  ASSERT_TRUE(same.ok()) << same.status().message();
  EXPECT_EQ(same->entries, t.entries);
}

TEST_P(XtTableBlobTest, CreatesChainsWithJumpsBetweenThem) {
  const Table t = Base();
  EXPECT_EQ(Describe(f(), t),
            "INPUT: | ACCEPT (underflow INPUT)\nFORWARD: | DROP (underflow FORWARD)\n"
            "OUTPUT: | ACCEPT (underflow OUTPUT)\n"
            "KUBE-A: " +
                A(1) + ">KUBE-B " + A(2) + ">KUBE-C " + A(3) + ">ACCEPT | RETURN\n" +
                "KUBE-B: " + A(4) + ">KUBE-C " + A(5) + ">next | RETURN\n" + "KUBE-C: " + A(6) +
                ">MARK " + A(7) + ">RETURN | RETURN\n");
  EXPECT_EQ(t.info.num_entries, 4u + 3 * 2 + 7);
  auto blob = XtTableBlob::Parse(f(), t.info, t.entries);
  ASSERT_TRUE(blob.ok()) << blob.status().message();
  EXPECT_EQ(blob->ChainCount(), 6u);
  EXPECT_EQ(blob->RuleCount("KUBE-A"), 3u);
  EXPECT_TRUE(blob->IsBuiltin("INPUT"));
  EXPECT_FALSE(blob->IsBuiltin("KUBE-A"));
  EXPECT_FALSE(blob->HasChain("KUBE-Z"));
  std::string chains;
  for (const auto& c : blob->Chains())
    chains += std::string(c.name) + " " + std::string(c.policy) + ",";
  EXPECT_EQ(chains, "INPUT ACCEPT,FORWARD DROP,OUTPUT ACCEPT,KUBE-A -,KUBE-B -,KUBE-C -,");
}

TEST_P(XtTableBlobTest, GrowingAndShrinkingChainsMovesEveryJump) {
  // A foreign rule in INPUT (as another tool would add it) jumps to KUBE-C; kept as it is.
  const Table t = InsertIntoInput(f(), Base(), "KUBE-C");
  const std::string any = f() == IpFamily::kIPv4 ? "0.0.0.0" : "::";
  const std::string input = "INPUT: " + any + ">KUBE-C | ACCEPT (underflow INPUT)\n";
  ASSERT_EQ(Describe(f(), t).rfind(input, 0), 0u) << Describe(f(), t);
  // Grow KUBE-A (before the jump targets), shrink KUBE-B, keep KUBE-C.
  auto edited = Edit(f(), t,
                     {Set("KUBE-A", {Rule(f(), A(11), "KUBE-C"), Rule(f(), A(12), "KUBE-B"),
                                     Rule(f(), A(13), "KUBE-B"), Rule(f(), A(14), "DROP"),
                                     Rule(f(), A(15), "KUBE-C")}),
                      Set("KUBE-B", {})});
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  EXPECT_EQ(Describe(f(), *edited),
            "INPUT: " + any + ">KUBE-C | ACCEPT (underflow INPUT)\n" +
                "FORWARD: | DROP (underflow FORWARD)\nOUTPUT: | ACCEPT (underflow OUTPUT)\n" +
                "KUBE-A: " + A(11) + ">KUBE-C " + A(12) + ">KUBE-B " + A(13) + ">KUBE-B " + A(14) +
                ">DROP " + A(15) + ">KUBE-C | RETURN\n" + "KUBE-B: | RETURN\n" + "KUBE-C: " + A(6) +
                ">MARK " + A(7) + ">RETURN | RETURN\n");
  // Shrink KUBE-A below its old size and grow KUBE-C (after the targets).
  auto again = Edit(f(), *edited,
                    {Set("KUBE-A", {Rule(f(), A(21), "KUBE-C")}),
                     Set("KUBE-C", {Rule(f(), A(22), "KUBE-B"), Rule(f(), A(23), ""),
                                    Rule(f(), A(24), "RETURN")})});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(Describe(f(), *again),
            "INPUT: " + any + ">KUBE-C | ACCEPT (underflow INPUT)\n" +
                "FORWARD: | DROP (underflow FORWARD)\nOUTPUT: | ACCEPT (underflow OUTPUT)\n" +
                "KUBE-A: " + A(21) + ">KUBE-C | RETURN\nKUBE-B: | RETURN\n" + "KUBE-C: " + A(22) +
                ">KUBE-B " + A(23) + ">next " + A(24) + ">RETURN | RETURN\n");
}

// A kept entry's verdict is rewritten only when what it points at moved: a fall-through when
// the entry itself moved, a jump when its chain did. Each case once, laid out fresh and in place:
// KUBE-C's jump to KUBE-A (before the growth) keeps its bytes, its fall-through and its jump to
// KUBE-D (both after it) are rewritten; then a same-size refill moves nothing at all.
TEST_P(XtTableBlobTest, OnlyVerdictsWhoseTargetMovedAreRewritten) {
  auto start = Edit(
      f(), EmptyFilter(f()),
      {Set("KUBE-A", {Rule(f(), A(1), "ACCEPT")}), Set("KUBE-B", {Rule(f(), A(2), "")}),
       Set("KUBE-C", {Rule(f(), A(3), "KUBE-A"), Rule(f(), A(4), ""), Rule(f(), A(5), "KUBE-D")}),
       Set("KUBE-D", {Rule(f(), A(6), "ACCEPT")})});
  ASSERT_TRUE(start.ok()) << start.status().message();
  const std::string builtins =
      "INPUT: | ACCEPT (underflow INPUT)\nFORWARD: | DROP (underflow FORWARD)\n"
      "OUTPUT: | ACCEPT (underflow OUTPUT)\n";
  auto expect = [&](const std::string& b) {
    return builtins + "KUBE-A: " + A(1) + ">ACCEPT | RETURN\nKUBE-B: " + b +
           "| RETURN\nKUBE-C: " + A(3) + ">KUBE-A " + A(4) + ">next " + A(5) +
           ">KUBE-D | RETURN\nKUBE-D: " + A(6) + ">ACCEPT | RETURN\n";
  };
  ASSERT_EQ(Describe(f(), *start), expect(A(2) + ">next "));
  const std::vector<XtChainEdit> grow = {Set("KUBE-B", {Rule(f(), A(7), ""), Rule(f(), A(8), "")})};
  const std::vector<XtChainEdit> refill = {
      Set("KUBE-B", {Rule(f(), A(9), ""), Rule(f(), A(10), "")})};
  const std::string grown = A(7) + ">next " + A(8) + ">next ";
  const std::string refilled = A(9) + ">next " + A(10) + ">next ";

  auto fresh = Edit(f(), *start, grow);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_EQ(Describe(f(), *fresh), expect(grown));
  fresh = Edit(f(), *fresh, refill);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_EQ(Describe(f(), *fresh), expect(refilled));

  auto parsed = XtTableBlob::Parse(f(), start->info, start->entries);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto carried = parsed->Apply({}, 4);
  ASSERT_TRUE(carried.ok()) << carried.status().message();
  for (const auto* edits : {&grow, &refill}) {
    auto in_place = carried->table->ApplyInPlace(*edits, 4, carried->buffer);
    ASSERT_TRUE(in_place.ok()) << in_place.status().message();
    carried = std::move(in_place);
    Table t;
    t.info = carried->info;
    t.entries.assign(carried->buffer.begin() + 4, carried->buffer.end());
    EXPECT_EQ(Describe(f(), t), expect(edits == &grow ? grown : refilled));
  }
}

TEST_P(XtTableBlobTest, KeepsRulesAndAppendsOrInserts) {
  XtChainEdit e;
  e.name = "KUBE-B";
  e.keep_rules = true;
  e.before = {Rule(f(), A(30), "KUBE-C")};
  e.after = {Rule(f(), A(31), "KUBE-A")};
  auto edited = Edit(f(), Base(), {e});
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  EXPECT_NE(Describe(f(), *edited)
                .find("KUBE-B: " + A(30) + ">KUBE-C " + A(4) + ">KUBE-C " + A(5) + ">next " +
                      A(31) + ">KUBE-A | RETURN\n"),
            std::string::npos)
      << Describe(f(), *edited);
}

TEST_P(XtTableBlobTest, NewChainsGoInNameOrderAndDeletedOnesLeave) {
  // KUBE-B0 sorts between KUBE-A and KUBE-B, ZZZ after every chain; KUBE-C's rules move with it.
  auto edited = Edit(f(), Base(),
                     {Set("KUBE-B0", {Rule(f(), A(40), "KUBE-C")}), Set("ZZZ", {}),
                      Set("KUBE-A", {Rule(f(), A(41), "KUBE-B0"), Rule(f(), A(42), "ZZZ")}),
                      Set("AAA", {Rule(f(), A(43), "KUBE-A")})});
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  EXPECT_EQ(Describe(f(), *edited),
            "INPUT: | ACCEPT (underflow INPUT)\nFORWARD: | DROP (underflow FORWARD)\n"
            "OUTPUT: | ACCEPT (underflow OUTPUT)\n"
            "AAA: " +
                A(43) + ">KUBE-A | RETURN\n" + "KUBE-A: " + A(41) + ">KUBE-B0 " + A(42) +
                ">ZZZ | RETURN\n" + "KUBE-B: " + A(4) + ">KUBE-C " + A(5) + ">next | RETURN\n" +
                "KUBE-B0: " + A(40) + ">KUBE-C | RETURN\n" + "KUBE-C: " + A(6) + ">MARK " + A(7) +
                ">RETURN | RETURN\n" + "ZZZ: | RETURN\n");
  // KUBE-B (nothing jumps to it any more) goes with its rules; so does AAA.
  auto removed = Edit(f(), *edited, {Remove("KUBE-B"), Remove("AAA")});
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(Describe(f(), *removed),
            "INPUT: | ACCEPT (underflow INPUT)\nFORWARD: | DROP (underflow FORWARD)\n"
            "OUTPUT: | ACCEPT (underflow OUTPUT)\n"
            "KUBE-A: " +
                A(41) + ">KUBE-B0 " + A(42) + ">ZZZ | RETURN\n" + "KUBE-B0: " + A(40) +
                ">KUBE-C | RETURN\n" + "KUBE-C: " + A(6) + ">MARK " + A(7) + ">RETURN | RETURN\n" +
                "ZZZ: | RETURN\n");
}

TEST_P(XtTableBlobTest, ManyNewChainsSortByTheirWholeNames) {
  // Names alike in their first 16 bytes and more, given in no order, some prefixes of others;
  // rules alternating jumps and the same extension target, as a full sync's endpoint chains do.
  std::vector<std::string> names;
  for (const char* tail : {"", "A", "AB", "B", "Z", "AAAAAA", "ZZ"}) {
    names.push_back(std::string("KUBE-SEP-XXXXXXXXXXXX") + tail);
  }
  names.push_back("KUBE-SEP-XXXXXXX");
  names.push_back("KUBE-SEP-XXXXXX");
  names.push_back("KUBE-SEP");
  std::vector<std::string> shuffled = names;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::vector<XtChainEdit> edits;
  for (size_t i = 0; i < shuffled.size(); ++i) {
    std::vector<XtRule> rules;
    if (i + 1 < shuffled.size()) rules.push_back(Rule(f(), A(50), shuffled[i + 1]));
    rules.push_back(Rule(f(), A(51), "MARK"));
    rules.push_back(Rule(f(), A(52), "KUBE-C"));
    rules.push_back(Rule(f(), A(53), "MARK"));
    edits.push_back(Set(shuffled[i], std::move(rules)));
  }
  auto edited = Edit(f(), Base(), edits);
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  const std::string described = Describe(f(), *edited);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  size_t at = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const size_t found = described.find("\n" + sorted[i] + ": ", at);
    ASSERT_NE(found, std::string::npos) << sorted[i] << " out of order in\n" << described;
    at = found + 1;
    const auto next = std::find(shuffled.begin(), shuffled.end(), sorted[i]) + 1;
    const std::string want = (next != shuffled.end() ? A(50) + ">" + *next + " " : "") + A(51) +
                             ">MARK " + A(52) + ">KUBE-C " + A(53) + ">MARK | RETURN\n";
    EXPECT_EQ(described.substr(found + 3 + sorted[i].size(), want.size()), want) << sorted[i];
  }
}

TEST_P(XtTableBlobTest, RulesFromASpentArenaAreWrittenBeforeItsBlocksAreFreed) {
  // As a full sync's plan fills the arena: a chain that sorts last first (a top-level chain's
  // rules come first in kpx's text), then 3 000 chains in name order, over many blocks.
  XtRuleArena arena;
  std::vector<XtChainEdit> edits;
  auto add = [&](const std::string& name, int rules) {
    XtChainEdit e;
    e.name = name;
    e.after = XtRules(&arena);
    for (int r = 0; r < rules; ++r) {
      e.after.Append(Rule(f(), A(r % 200), r % 2 == 0 ? "MARK" : "KUBE-ZZZ-LAST"));
    }
    edits.push_back(std::move(e));
  };
  add("KUBE-ZZZ-LAST", 40);
  for (int i = 0; i < 3000; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "KUBE-SEP-%05d", i);
    add(name, 5);
  }
  ASSERT_GT(arena.blocks(), 5u);
  const std::vector<XtChainEdit> owned = edits;  // copies own their rules
  const Table base = Base();
  auto blob = XtTableBlob::Parse(f(), base.info, base.entries);
  ASSERT_TRUE(blob.ok());
  auto plain = blob->Apply(owned, 8);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  const size_t mapped = arena.mapped();
  auto spent = blob->Apply(edits, 8, &arena);
  ASSERT_TRUE(spent.ok()) << spent.status().message();
  EXPECT_EQ(spent->buffer, plain->buffer);
  // Every block is freed but the first, which holds the chain written last, and the last (kept
  // for Grow).
  EXPECT_EQ(arena.mapped(), arena.BlockSize(0) + arena.BlockSize(arena.blocks() - 1));
  EXPECT_LT(arena.mapped(), mapped);
}

// At a full sync's size the spent blocks' pages are moved onto the table ahead of the writes
// (no fault, no zeroing there) rather than freed: the table is byte for byte the one written
// into fresh memory, and the old entries copied in first (the built-in chains, the end marker)
// are not overwritten by a moved block.
TEST_P(XtTableBlobTest, SpentBlocksMovedOntoTheTableLeaveItAsWrittenFresh) {
  XtRuleArena arena;
  std::vector<XtChainEdit> edits;
  for (int i = 0; i < 48000; ++i) {
    XtChainEdit e;
    char name[32];
    std::snprintf(name, sizeof(name), "KUBE-SEP-%05d", i);
    e.name = name;
    e.after = XtRules(&arena);
    for (int r = 0; r < 4; ++r) e.after.Append(Rule(f(), A((i + r) % 200), "MARK"));
    edits.push_back(std::move(e));
  }
  ASSERT_GT(arena.mapped(), size_t{24} << 20) << "several blocks of 8 MiB";
  EXPECT_GT(arena.made_ahead(), 0u) << "8 MiB blocks are made one ahead";
  const std::vector<XtChainEdit> owned = edits;
  const Table base = Base();
  auto blob = XtTableBlob::Parse(f(), base.info, base.entries);
  ASSERT_TRUE(blob.ok());
  auto plain = blob->Apply(owned, 8);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  auto spent = blob->Apply(edits, 8, &arena);
  ASSERT_TRUE(spent.ok()) << spent.status().message();
  EXPECT_GT(arena.moved(), 0u);
  ASSERT_EQ(spent->buffer.size(), plain->buffer.size());
  EXPECT_TRUE(spent->buffer == plain->buffer);
}

TEST_P(XtTableBlobTest, KeptEntriesKeepTheirBytesAndMapToTheirOldIndex) {
  Table t = Base();
  // Counters as the kernel reports them, on every entry: entry i counts i packets.
  {
    uint32_t off = 0;
    for (uint64_t i = 0; off < t.entries.size(); ++i) {
      EntryView e{f(), t.entries.data() + off};
      xt_counters c{i, 100 * i};
      const size_t at =
          f() == IpFamily::kIPv4 ? offsetof(ipt_entry, counters) : offsetof(ip6t_entry, counters);
      std::memcpy(t.entries.data() + off + at, &c, sizeof(c));
      off += e.next_offset();
    }
  }
  std::vector<uint32_t> old_index;
  auto edited = Edit(f(), t, {Set("KUBE-A", {Rule(f(), A(50), "KUBE-C")})}, &old_index);
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  ASSERT_EQ(old_index.size(), edited->info.num_entries);
  // Walk both tables; every kept entry equals its old self except for a moved jump's verdict.
  std::vector<uint32_t> old_offsets;
  for (uint32_t off = 0; off < t.entries.size();) {
    old_offsets.push_back(off);
    off += EntryView{f(), t.entries.data() + off}.next_offset();
  }
  size_t kept = 0;
  uint32_t off = 0;
  for (size_t i = 0; i < old_index.size(); ++i) {
    EntryView now{f(), edited->entries.data() + off};
    if (old_index[i] == XtReplacement::kNew) {
      EXPECT_EQ(now.counters().pcnt, 0u);
    } else {
      ++kept;
      ASSERT_LT(old_index[i], old_offsets.size());
      EntryView was{f(), t.entries.data() + old_offsets[old_index[i]]};
      ASSERT_EQ(now.next_offset(), was.next_offset());
      EXPECT_EQ(now.counters().pcnt, old_index[i]);
      EXPECT_EQ(now.counters().bcnt, 100u * old_index[i]);
      // Same bytes up to the verdict (which may move with its chain).
      EXPECT_EQ(std::memcmp(now.p, was.p, now.target_offset() + sizeof(xt_entry_target)), 0)
          << "entry " << i;
      EXPECT_EQ(std::string(now.target()->u.user.name), was.target()->u.user.name);
    }
    off += now.next_offset();
  }
  // Old: 17 entries; KUBE-A's 3 rules went, its head and tail and all else stayed.
  EXPECT_EQ(kept, 17u - 3u);
  EXPECT_EQ(edited->info.num_entries, kept + 1);
}

// The split Apply hands back is the one Parse would make of the new bytes: over random sequences
// of edits (chains created, refilled with jumps between them, emptied and deleted), each step is
// applied to the carried split, to a fresh parse of the previous bytes, and in place over the
// carried bytes, and the three results must be byte for byte the same, as must their chains and
// rule counts.
TEST_P(XtTableBlobTest, CarriedSplitEditsLikeAFreshParse) {
  std::mt19937 rng(29);
  const Table start = Base();
  auto parsed = XtTableBlob::Parse(f(), start.info, start.entries);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto first = parsed->Apply({}, 4);
  ASSERT_TRUE(first.ok()) << first.status().message();
  XtReplacement carried = std::move(first.value());
  std::vector<std::string> names = {"KUBE-A", "KUBE-B", "KUBE-C"};
  int applied = 0;
  for (int step = 0; step < 200; ++step) {
    const XtTableBlob& kept = *carried.table;
    // Fresh parse of the same bytes.
    std::vector<unsigned char> bytes(carried.buffer.begin() + 4, carried.buffer.end());
    auto fresh = XtTableBlob::Parse(f(), carried.info, bytes);
    ASSERT_TRUE(fresh.ok()) << fresh.status().message();
    ASSERT_EQ(kept.ChainCount(), fresh->ChainCount());
    for (const auto& n : names) {
      ASSERT_EQ(kept.HasChain(n), fresh->HasChain(n)) << n;
      ASSERT_EQ(kept.RuleCount(n), fresh->RuleCount(n)) << n;
    }
    std::vector<XtChainEdit> edits;
    std::vector<std::string> chosen;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
      std::string name =
          rng() % 4 == 0 ? "KUBE-N" + std::to_string(rng() % 40) : names[rng() % names.size()];
      if (std::find(chosen.begin(), chosen.end(), name) != chosen.end()) continue;
      chosen.push_back(name);
      if (kept.HasChain(name) && rng() % 5 == 0) {
        edits.push_back(Remove(name));
        continue;
      }
      std::vector<XtRule> rules;
      for (int r = 0; r < static_cast<int>(rng() % 4); ++r) {
        const std::string& to = names[rng() % names.size()];
        rules.push_back(Rule(f(), A(1 + static_cast<int>(rng() % 200)),
                             rng() % 3 == 0 ? "ACCEPT"
                             : to == name   ? ""
                                            : to));
      }
      XtChainEdit e = Set(name, std::move(rules));
      e.keep_rules = rng() % 2 == 0;
      edits.push_back(std::move(e));
    }
    auto a = kept.Apply(edits, 4);
    auto b = fresh->Apply(edits, 4);
    ASSERT_EQ(a.ok(), b.ok()) << (a.ok() ? b.status().message() : a.status().message());
    if (!a.ok()) {
      // Refused alike (a deletion of a chain something still jumps to): same message.
      EXPECT_EQ(a.status().message(), b.status().message());
      continue;
    }
    ASSERT_EQ(a->buffer.size(), b->buffer.size());
    ASSERT_EQ(std::memcmp(a->buffer.data(), b->buffer.data(), a->buffer.size()), 0);
    ASSERT_EQ(a->old_index, b->old_index);
    // The same edit written over the carried bytes themselves (last: it consumes them).
    auto c = kept.ApplyInPlace(edits, 4, carried.buffer);
    ASSERT_TRUE(c.ok()) << c.status().message();
    ASSERT_EQ(c->buffer.size(), a->buffer.size());
    ASSERT_EQ(std::memcmp(c->buffer.data() + 4, a->buffer.data() + 4, a->buffer.size() - 4), 0);
    ASSERT_EQ(c->old_index, a->old_index);
    for (const auto& e : edits) {
      if (!e.remove && std::find(names.begin(), names.end(), e.name) == names.end()) {
        names.push_back(e.name);
      }
    }
    // Alternate which of the two is carried on, so both splits are edited again.
    carried = std::move(step % 2 == 0 ? c.value() : a.value());
    ++applied;
  }
  EXPECT_GT(applied, 100);
}

TEST_P(XtTableBlobTest, InPlaceNeedsTheBufferTheTableWasSplitFrom) {
  const Table t = Base();
  auto blob = XtTableBlob::Parse(f(), t.info, t.entries);
  ASSERT_TRUE(blob.ok());
  XtBuffer other(t.entries.size() + 4);
  auto r = blob->ApplyInPlace({}, 4, other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "edit in place: the buffer does not hold this table");
}

TEST_P(XtTableBlobTest, RefusesEditsThatCannotBeApplied) {
  const Table t = Base();
  auto blob = XtTableBlob::Parse(f(), t.info, t.entries);
  ASSERT_TRUE(blob.ok());
  auto error = [&](std::vector<XtChainEdit> edits) {
    auto r = blob->Apply(edits, 0);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  // Deleting keeps nothing of the chain unless told to keep its rules, which then must be none.
  XtChainEdit keep = Remove("KUBE-C");
  keep.keep_rules = true;
  EXPECT_EQ(error({keep}), "cannot delete KUBE-C: chain is not empty");
  EXPECT_EQ(error({Remove("KUBE-C")}), "cannot delete KUBE-C: a rule still jumps to it");
  EXPECT_EQ(error({Set("KUBE-C", {}), Remove("KUBE-X")}), "cannot delete KUBE-X: no such chain");
  EXPECT_EQ(error({Set("KUBE-B", {}), Remove("KUBE-B")}), "chain KUBE-B edited twice");
  // A new chain too, wherever the two edits sit among the others.
  EXPECT_EQ(error({Set("KUBE-NEW", {}), Set("KUBE-A", {}), Set("KUBE-NEW", {})}),
            "chain KUBE-NEW edited twice");
  EXPECT_EQ(error({Set("INPUT", {})}), "INPUT is a built-in chain");
  EXPECT_EQ(error({Set(std::string(29, 'X'), {})}),
            "bad chain name \"" + std::string(29, 'X') + "\"");
  XtRule broken = Rule(f(), A(1), "ACCEPT");
  broken.resize(broken.size() - 8);
  EXPECT_NE(error({Set("KUBE-A", {broken})}).find("rule for KUBE-A"), std::string::npos);
  // A rule may not jump to a chain deleted in the same edit.
  auto emptied = Edit(f(), t, {Set("KUBE-A", {}), Set("KUBE-B", {})});
  ASSERT_TRUE(emptied.ok());
  auto blob2 = XtTableBlob::Parse(f(), emptied->info, emptied->entries);
  ASSERT_TRUE(blob2.ok());
  auto r = blob2->Apply({Remove("KUBE-B"), Set("KUBE-A", {Rule(f(), A(1), "KUBE-B")})}, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "rule in KUBE-A jumps to KUBE-B, which is deleted");
  auto r2 = blob2->Apply({Remove("KUBE-B")}, 0);
  EXPECT_TRUE(r2.ok()) << r2.status().message();
}

TEST_P(XtTableBlobTest, MalformedTablesAreErrors) {
  const Table good = Base();
  auto parse = [&](const Table& t) {
    auto r = XtTableBlob::Parse(f(), t.info, t.entries);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  ASSERT_EQ(parse(good), "ok");
  Table t = good;
  t.info.size += 8;
  EXPECT_NE(parse(t).find("info says"), std::string::npos);
  t = good;
  t.entries.resize(t.entries.size() - 8);
  t.info.size -= 8;
  EXPECT_NE(parse(t), "ok");
  t = good;
  t.info.num_entries += 1;
  EXPECT_NE(parse(t).find("entries, its info says"), std::string::npos);
  t = good;
  t.info.hook_entry[NF_INET_FORWARD] += 8;
  EXPECT_NE(parse(t).find("hook FORWARD"), std::string::npos);
  t = good;
  t.info.valid_hooks |= 1 << 6;
  EXPECT_EQ(parse(t), "unknown hooks in valid_hooks");
  // Zero next_offset in the first entry (a naive walk would loop forever).
  t = good;
  const size_t next_at =
      f() == IpFamily::kIPv4 ? offsetof(ipt_entry, next_offset) : offsetof(ip6t_entry, next_offset);
  t.entries[next_at] = 0;
  t.entries[next_at + 1] = 0;
  EXPECT_NE(parse(t).find("entry at offset 0"), std::string::npos);
  // A jump into the middle of a chain: point KUBE-A's first rule's verdict 8 bytes further.
  t = good;
  {
    uint32_t off = 0;
    while (true) {
      EntryView e{f(), t.entries.data() + off};
      if (e.verdict() >= 0 && std::string(e.target()->u.user.name).empty() &&
          e.verdict() != static_cast<int>(off + e.next_offset())) {
        auto* st =
            reinterpret_cast<xt_standard_target*>(t.entries.data() + off + e.target_offset());
        st->verdict += static_cast<int>(sizeof(xt_counters));
        break;
      }
      off += e.next_offset();
      ASSERT_LT(off, t.entries.size());
    }
  }
  EXPECT_NE(parse(t).find("which starts no chain"), std::string::npos) << parse(t);
  // A user chain whose tail is not RETURN: make KUBE-C's tail ACCEPT (the entry before the
  // final ERROR).
  t = good;
  {
    uint32_t off = 0;  // the final ERROR entry's
    while (off + EntryView{f(), t.entries.data() + off}.next_offset() < t.entries.size()) {
      off += EntryView{f(), t.entries.data() + off}.next_offset();
    }
    uint32_t tail = 0;
    for (uint32_t o = 0; o < off;) {
      tail = o;
      o += EntryView{f(), t.entries.data() + o}.next_offset();
    }
    EntryView e{f(), t.entries.data() + tail};
    reinterpret_cast<xt_standard_target*>(t.entries.data() + tail + e.target_offset())->verdict =
        -NF_ACCEPT - 1;
  }
  EXPECT_EQ(parse(t), "chain KUBE-C does not end with RETURN");
  // No final ERROR entry: cut it off.
  t = good;
  {
    const size_t error_size = EntrySize(f()) + XT_ALIGN(sizeof(xt_error_target));
    t.entries.resize(t.entries.size() - error_size);
    t.info.size = static_cast<uint32_t>(t.entries.size());
    t.info.num_entries -= 1;
  }
  EXPECT_EQ(parse(t), "table does not end with an ERROR entry");
}

// Random corruption never crashes the parser or the editor; what parses can be edited or is
// refused with an error.
TEST_P(XtTableBlobTest, SurvivesRandomCorruption) {
  const Table good = Base();
  std::mt19937 rng(14);
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    Table t = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      t.entries[rng() % t.entries.size()] = static_cast<unsigned char>(rng());
    }
    auto blob = XtTableBlob::Parse(f(), t.info, t.entries);
    if (!blob.ok()) continue;
    ++parsed;
    auto r = blob->Apply({Set("KUBE-B", {Rule(f(), A(1), "KUBE-C")}), Set("NEW", {})}, 0);
    if (r.ok()) {
      EXPECT_EQ(r->buffer.size(), r->info.size);
    }
  }
  // Most flips land in addresses, counters or names and still parse.
  EXPECT_GT(parsed, 0);
}

INSTANTIATE_TEST_SUITE_P(Families, XtTableBlobTest,
                         ::testing::Values(IpFamily::kIPv4, IpFamily::kIPv6), [](const auto& info) {
                           return info.param == IpFamily::kIPv4 ? "IPv4" : "IPv6";
                         });

}  // namespace
}  // namespace kpx
