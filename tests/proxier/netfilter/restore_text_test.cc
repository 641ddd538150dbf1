#include "proxier/netfilter/restore_text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxier/netfilter/rule_spec.h"

namespace kpx {
namespace {

std::vector<std::string> Strings(std::span<const std::string_view> args) {
  return {args.begin(), args.end()};
}

bool Within(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

TEST(RestoreText, ParsesSectionsIntoViewsOfTheText) {
  const std::string text =
      "# a comment\n"
      "*nat\n"
      ":KUBE-SERVICES - [0:0]\n"
      ":PREROUTING ACCEPT [3:120]\n"
      "-N KUBE-NEW\n"
      "-A KUBE-SERVICES -m comment --comment \"ns/svc:http cluster IP\" -d 10.0.0.1/32 -j "
      "KUBE-NEW\n"
      "-A KUBE-NEW -m comment --comment \"say \\\"hi\\\"\" -j ACCEPT\n"
      "-X KUBE-OLD\n"
      "COMMIT\n"
      "*filter\n"
      "-I INPUT -j KUBE-FIREWALL\r\n"
      "COMMIT\n";
  auto parsed = RestoreText::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  const RestoreTable& nat = (*parsed)[0];
  EXPECT_EQ(nat.name, "nat");
  ASSERT_EQ(nat.chains.size(), 2u);
  EXPECT_EQ(nat.chains[0].name, "KUBE-SERVICES");
  EXPECT_EQ(nat.chains[0].policy, "-");
  EXPECT_EQ(nat.chains[1].policy, "ACCEPT");
  EXPECT_EQ(nat.chains[1].line, 4);
  ASSERT_EQ(nat.commands.size(), 4u);
  using K = RestoreCommand::Kind;
  EXPECT_EQ(nat.commands[0].kind, K::kNewChain);
  EXPECT_TRUE(nat.commands[0].args.empty());
  EXPECT_EQ(nat.commands[1].kind, K::kAppend);
  EXPECT_EQ(nat.commands[1].chain, "KUBE-SERVICES");
  EXPECT_EQ(nat.commands[1].line, 6);
  EXPECT_EQ(Strings(nat.commands[1].args),
            (std::vector<std::string>{"-m", "comment", "--comment", "ns/svc:http cluster IP", "-d",
                                      "10.0.0.1/32", "-j", "KUBE-NEW"}));
  // Tokens without escapes, quoted or not, are the text's own bytes; only an escaped one is
  // stored apart.
  for (std::string_view a : nat.commands[1].args) EXPECT_TRUE(Within(a, text)) << a;
  EXPECT_EQ(Strings(nat.commands[2].args),
            (std::vector<std::string>{"-m", "comment", "--comment", "say \"hi\"", "-j", "ACCEPT"}));
  EXPECT_FALSE(Within(nat.commands[2].args[3], text));
  EXPECT_EQ(nat.unescaped.size(), 1u);
  EXPECT_EQ(nat.commands[3].kind, K::kDeleteChain);
  EXPECT_EQ(nat.commands[3].chain, "KUBE-OLD");
  EXPECT_TRUE(nat.commands[3].args.empty());
  const RestoreTable& filter = (*parsed)[1];
  ASSERT_EQ(filter.commands.size(), 1u);
  EXPECT_EQ(filter.commands[0].kind, K::kInsert);
  EXPECT_EQ(Strings(filter.commands[0].args), (std::vector<std::string>{"-j", "KUBE-FIREWALL"}));
}

TEST(RestoreText, ChainNamesOfOneTableWhateverTheLineEnds) {
  const std::string lf =
      "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FORWARD - [0:0]\nCOMMIT\n"
      "*nat\n:PREROUTING ACCEPT [3:180]\n:KUBE-SERVICES - [0:0]\n:KUBE-SEP-X -\n"
      "-A KUBE-SERVICES -j KUBE-SEP-X\nCOMMIT\n";
  std::string crlf;
  for (char c : lf) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  const std::vector<std::string> nat = {"PREROUTING", "KUBE-SERVICES", "KUBE-SEP-X"};
  EXPECT_EQ(RestoreText::ChainNames(lf, "nat"), nat);
  EXPECT_EQ(RestoreText::ChainNames(crlf, "nat"), nat);
  EXPECT_EQ(RestoreText::ChainNames(crlf, "filter"),
            (std::vector<std::string>{"INPUT", "KUBE-FORWARD"}));
  EXPECT_TRUE(RestoreText::ChainNames(crlf, "mangle").empty());
}

TEST(RestoreText, ArgumentsStayValidWhenTheTablesMove) {
  std::string text = "*nat\n";
  for (int i = 0; i < 1000; ++i) {
    text += "-A KUBE-SEP-" + std::to_string(i) + " -s 10.0." + std::to_string(i / 256) + "." +
            std::to_string(i % 256) + "/32 -j KUBE-MARK-MASQ\n";
  }
  text += "COMMIT\n";
  auto parsed = RestoreText::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  std::vector<RestoreTable> moved = std::move(parsed.value());
  RestoreTable table = std::move(moved[0]);
  ASSERT_EQ(table.commands.size(), 1000u);
  for (int i = 0; i < 1000; i += 111) {
    const RestoreCommand& c = table.commands[static_cast<size_t>(i)];
    EXPECT_EQ(c.chain, "KUBE-SEP-" + std::to_string(i));
    ASSERT_EQ(c.args.size(), 4u);
    EXPECT_EQ(c.args[1], "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "/32");
    auto spec = RuleSpecView::Parse(c.args);
    ASSERT_TRUE(spec.ok());
    EXPECT_EQ(spec->target, "KUBE-MARK-MASQ");
  }
}

TEST(RestoreText, RejectsWhatIptablesRestoreWould) {
  auto error = [](const std::string& text) {
    auto parsed = RestoreText::Parse(text);
    return parsed.ok() ? std::string("ok") : parsed.status().message();
  };
  EXPECT_EQ(error("*nat\n-A\nCOMMIT\n"), "restore input line 2: missing chain");
  EXPECT_EQ(error("*nat\n-Z X\nCOMMIT\n"), "restore input line 2: unsupported command -Z");
  EXPECT_EQ(error("*nat\n-N X -j Y\nCOMMIT\n"), "restore input line 2: unexpected arguments");
  EXPECT_EQ(error("*nat\n-A X -m comment --comment \"open\nCOMMIT\n"),
            "restore input line 2: unterminated quote");
  EXPECT_EQ(error("*nat\n-A X \"a\"b\nCOMMIT\n"),
            "restore input line 2: garbage after closing quote");
  EXPECT_EQ(error("*nat\n:" + std::string(29, 'X') + " - [0:0]\nCOMMIT\n"),
            "restore input line 2: bad chain name");
  EXPECT_EQ(error("*nat\n-A X -j Y\n"), "restore input ends without COMMIT");
  EXPECT_EQ(error("-A X -j Y\n"), "restore input line 1: command outside a table");
}

TEST(RestoreText, SplitUnquotesAsIptablesRestore) {
  auto split = RestoreText::Split("-m comment --comment \"a \\\\ b\" -j  X\t\"\"");
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(*split,
            (std::vector<std::string>{"-m", "comment", "--comment", "a \\ b", "-j", "X", ""}));
}

}  // namespace
}  // namespace kpx
