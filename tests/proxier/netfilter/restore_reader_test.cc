#include "proxier/netfilter/restore_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

using Kind = RestoreReader::Kind;

// Each line the reader reports, as "kind: what it read".
std::vector<std::string> Lines(const std::string& text, std::string* error = nullptr) {
  std::vector<std::string> out;
  RestoreReader reader(text);
  for (;;) {
    auto more = reader.Next();
    if (!more.ok()) {
      if (error != nullptr) *error = more.status().message();
      break;
    }
    if (!*more) break;
    switch (reader.kind()) {
      case Kind::kTable:
        out.push_back("table " + std::string(reader.table()));
        break;
      case Kind::kChain:
        out.push_back("chain " + std::string(reader.chain().name) + " " +
                      std::string(reader.chain().policy) + " @" +
                      std::to_string(reader.chain().line));
        break;
      case Kind::kCommand: {
        std::string line = "command " + std::to_string(static_cast<int>(reader.command().kind)) +
                           " " + std::string(reader.command().chain) + ":";
        for (std::string_view a : reader.command().args) line += " [" + std::string(a) + "]";
        out.push_back(line + " @" + std::to_string(reader.command().line));
        break;
      }
      case Kind::kCommit:
        out.push_back("commit");
        break;
    }
  }
  return out;
}

TEST(RestoreReaderTest, ReadsLineByLine) {
  const std::string text =
      "# generated\n"
      "*nat\n"
      ":KUBE-SERVICES - [0:0]\n"
      "\n"
      "-A KUBE-SERVICES -m comment --comment \"a \\\"b\\\"\" -j KUBE-SVC-X\r\n"
      "-X KUBE-OLD\n"
      "COMMIT\n"
      "*filter\n"
      "COMMIT";
  std::string error;
  EXPECT_EQ(
      Lines(text, &error),
      (std::vector<std::string>{
          "table nat", "chain KUBE-SERVICES - @3",
          "command 0 KUBE-SERVICES: [-m] [comment] [--comment] [a \"b\"] [-j] [KUBE-SVC-X] @5",
          "command 5 KUBE-OLD: @6", "commit", "table filter", "commit"}));
  EXPECT_EQ(error, "");
}

TEST(RestoreReaderTest, ArgumentsViewTheTextUnlessEscaped) {
  const std::string text = "*nat\n-A X -s 10.0.0.1 -m comment --comment \"x\\\\y\"\nCOMMIT\n";
  RestoreReader reader(text);
  ASSERT_TRUE(*reader.Next());
  ASSERT_TRUE(*reader.Next());
  ASSERT_EQ(reader.kind(), Kind::kCommand);
  const auto args = reader.command().args;
  ASSERT_EQ(args.size(), 6u);
  EXPECT_EQ(args[1].data(), text.data() + text.find("10.0.0.1"));
  EXPECT_EQ(args[5], "x\\y");
  ASSERT_EQ(reader.unescaped().size(), 1u);
  EXPECT_EQ(args[5].data(), reader.unescaped().front().data());
  ASSERT_TRUE(*reader.Next());
  EXPECT_EQ(reader.kind(), Kind::kCommit);
  EXPECT_TRUE(reader.unescaped().empty());  // the line's own, gone with it
  EXPECT_FALSE(*reader.Next());
}

TEST(RestoreReaderTest, MalformedLinesAreErrorsWithTheirNumbers) {
  auto error = [](const std::string& text) {
    std::string e;
    Lines(text, &e);
    return e;
  };
  EXPECT_EQ(error("*nat\n*filter\n"), "restore input line 2: table started before COMMIT");
  EXPECT_EQ(error("COMMIT\n"), "restore input line 1: COMMIT outside a table");
  EXPECT_EQ(error("-A X\n"), "restore input line 1: command outside a table");
  EXPECT_EQ(error("*nat\n:X\nCOMMIT\n"), "restore input line 2: bad chain line");
  EXPECT_EQ(error("*nat\n-F X Y\nCOMMIT\n"), "restore input line 2: unexpected arguments");
  EXPECT_EQ(error("*nat\n-A\n"), "restore input line 2: missing chain");
  EXPECT_EQ(error("*nat\n-A X -j Y\n"), "restore input ends without COMMIT");
}

}  // namespace
}  // namespace kpx
