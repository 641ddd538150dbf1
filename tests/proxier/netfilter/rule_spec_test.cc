#include "proxier/netfilter/rule_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxier/netfilter/restore_text.h"

namespace kpx {
namespace {

// A spec's content as text, the same for owned and viewing specs.
template <typename Str>
std::string Describe(const BasicRuleSpec<Str>& s) {
  std::string out;
  auto field = [&](const char* name, const auto& f) {
    if (f) out += std::string(name) + (f->negated ? "!" : "") + "=" + std::string(f->value) + " ";
  };
  field("s", s.source);
  field("d", s.destination);
  field("p", s.protocol);
  field("i", s.in_interface);
  field("o", s.out_interface);
  auto options = [&](const auto& list) {
    for (const auto& o : list) {
      out += " " + std::string(o.negated ? "!" : "") + std::string(o.name) + "(";
      for (const auto& v : o.values) out += std::string(v) + ",";
      out += ")";
    }
  };
  for (const auto& m : s.matches) {
    out += "[" + std::string(m.module);
    options(m.options);
    out += "] ";
  }
  out += (s.is_goto ? "goto " : "jump ") + std::string(s.target);
  options(s.target_options);
  return out;
}

const char* const kRules[] = {
    "-m comment --comment \"x y\" -m tcp -p tcp -d 172.30.0.1 --dport 80 ! -s 10.0.0.0/8 -j X",
    "-p udp --dport 53 -j ACCEPT",
    "-m statistic --mode random --probability 0.2500000000 -j KUBE-SEP-X",
    "-m recent --name KUBE-SEP-X --rcheck --seconds 10800 --reap -j KUBE-SEP-X",
    "-m tcp -p tcp -j DNAT --to-destination 10.1.2.3:8080",
    "-j MARK --or-mark 0x4000",
    "-m tcp -p tcp --tcp-flags SYN,RST SYN -m conntrack ! --ctstate INVALID -j DROP",
    "-i eth0 ! -o lo -m addrtype --dst-type LOCAL ! --src-type LOCAL",
    "-g KUBE-X",
};

TEST(RuleSpecTest, ViewsParseAsOwnedAndReuseLeavesNothingBehind) {
  RuleSpecView reused;
  for (const char* rule : kRules) {
    auto args = RestoreText::Split(rule);
    ASSERT_TRUE(args.ok()) << rule;
    auto owned = RuleSpec::Parse(*args);
    ASSERT_TRUE(owned.ok()) << rule << ": " << owned.status().message();
    const std::vector<std::string_view> views(args->begin(), args->end());
    auto viewed = RuleSpecView::Parse(std::span<const std::string_view>(views));
    ASSERT_TRUE(viewed.ok()) << rule;
    EXPECT_EQ(Describe(*viewed), Describe(*owned)) << rule;
    // The spec is parsed into again after every other rule: nothing of those may show.
    ASSERT_TRUE(RuleSpecView::ParseInto(views, reused).ok()) << rule;
    EXPECT_EQ(Describe(reused), Describe(*owned)) << rule;
    // And it survives a move (its spans point into its own arrays).
    RuleSpecView moved = std::move(viewed.value());
    EXPECT_EQ(Describe(moved), Describe(*owned)) << rule;
  }
  auto first = RuleSpec::Parse(*RestoreText::Split(kRules[0]));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Describe(*first),
            "s!=10.0.0.0/8 d=172.30.0.1 p=tcp [comment --comment(x y,)] [tcp --dport(80,)] jump X");
  const std::vector<std::string_view> bad = {"--dport", "80"};
  EXPECT_FALSE(RuleSpecView::ParseInto(bad, reused).ok());
}

}  // namespace
}  // namespace kpx
