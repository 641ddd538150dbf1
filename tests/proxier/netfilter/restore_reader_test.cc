#include "proxier/netfilter/restore_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

using Kind = RestoreReader::Kind;

// Each line the reader reports, as "kind: what it read".
std::vector<std::string> Read(RestoreReader& reader, std::string* error);

std::vector<std::string> Lines(const std::string& text, std::string* error = nullptr) {
  RestoreReader reader(text);
  return Read(reader, error);
}

std::vector<std::string> Read(RestoreReader& reader, std::string* error) {
  std::vector<std::string> out;
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

// Pieces of whole lines read exactly as their concatenation: the same lines, the same numbers,
// the same errors, wherever the pieces are cut and however many are empty.
TEST(RestoreReaderTest, PiecesReadAsTheirConcatenation) {
  const std::vector<std::string> lines = {
      "*nat\n",
      ":KUBE-SERVICES - [0:0]\n",
      ":KUBE-SVC-X - [0:0]\n",
      "# a comment\n",
      "\n",
      "-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-X\n",
      "-A KUBE-SVC-X -m comment --comment \"ns/svc:\\\"p\\\"\" -j KUBE-SEP-Y\n",
      "COMMIT\n",
      "*filter\n",
      "-X KUBE-OLD\n",
      "COMMIT\n",
  };
  std::string joined;
  for (const auto& l : lines) joined += l;
  std::string want_error;
  const std::vector<std::string> want = Lines(joined, &want_error);
  ASSERT_EQ(want.size(), 9u);
  // Every way of cutting the lines into consecutive pieces, empty ones among them.
  for (unsigned cuts = 0; cuts < (1u << (lines.size() - 1)); ++cuts) {
    std::vector<std::string> owned(1);
    for (size_t i = 0; i < lines.size(); ++i) {
      owned.back() += lines[i];
      if (i + 1 == lines.size() || !(cuts >> i & 1)) continue;
      if (i % 4 == 1) owned.emplace_back();  // an empty piece between two
      owned.emplace_back();
    }
    const std::vector<std::string_view> pieces(owned.begin(), owned.end());
    RestoreReader reader(pieces);
    std::string error;
    ASSERT_EQ(Read(reader, &error), want) << "cuts " << cuts;
    EXPECT_EQ(error, want_error);
  }
  // An error is numbered as in the whole text.
  const std::vector<std::string_view> bad = {"*nat\n:A - [0:0]\n", "", "-Z A\nCOMMIT\n"};
  RestoreReader reader(bad);
  std::string error;
  Read(reader, &error);
  EXPECT_EQ(error, "restore input line 3: unsupported command -Z");
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
