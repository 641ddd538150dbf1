#include "proxier/netfilter/restore_section.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxier/netfilter/restore_pieces.h"

namespace kpx {
namespace {

std::string Joined(const RestoreSection& s) { return JoinPieces(s.pieces); }

TEST(RestoreSectionTest, SectionsWithTheirFirstLinesAndDeclarations) {
  const std::string text =
      "# written by kpx\n"
      "*filter\n"
      ":KUBE-A - [0:0]\n"
      "-A KUBE-A -j ACCEPT\n"
      "COMMIT\n"
      "\n"
      "*nat\n"
      ":KUBE-B - [0:0]\n"
      ":KUBE-C - [0:0]\n"
      "-A KUBE-B -j KUBE-C\n"
      "COMMIT\n";
  const std::string_view whole = text;
  auto sections = RestoreSection::Split({&whole, 1});
  ASSERT_TRUE(sections);
  ASSERT_EQ(sections->size(), 2u);
  EXPECT_EQ((*sections)[0].name, "filter");
  EXPECT_EQ((*sections)[0].first_line, 2);
  EXPECT_EQ((*sections)[0].declared, 1u);
  EXPECT_EQ(Joined((*sections)[0]), "*filter\n:KUBE-A - [0:0]\n-A KUBE-A -j ACCEPT\nCOMMIT\n");
  EXPECT_EQ((*sections)[1].name, "nat");
  EXPECT_EQ((*sections)[1].first_line, 7);
  EXPECT_EQ((*sections)[1].declared, 2u);
  EXPECT_EQ(Joined((*sections)[1]),
            "*nat\n:KUBE-B - [0:0]\n:KUBE-C - [0:0]\n-A KUBE-B -j KUBE-C\nCOMMIT\n");
}

// The renderer's pieces are cut wherever its texts end: a section spans them, its first and last
// cut at its own lines, and reads the same as from one text.
TEST(RestoreSectionTest, SectionsSpanPiecesCutAnywhereBetweenLines) {
  const std::vector<std::string> lines = {"*filter\n",        ":A - [0:0]\n", "-A A -j DROP\n",
                                          "COMMIT\n",         "*nat\n",       ":B - [0:0]\n",
                                          "-A B -j RETURN\n", "COMMIT\n"};
  std::string text;
  for (const std::string& l : lines) text += l;
  const std::string_view whole = text;
  const auto expected = RestoreSection::Split({&whole, 1});
  ASSERT_TRUE(expected);
  // Every way of cutting the lines into consecutive pieces at one or two places.
  for (size_t a = 1; a < lines.size(); ++a) {
    for (size_t b = a; b < lines.size(); ++b) {
      std::string p1, p2, p3;
      for (size_t i = 0; i < lines.size(); ++i) (i < a ? p1 : i < b ? p2 : p3) += lines[i];
      const std::vector<std::string_view> pieces = {p1, p2, p3};
      auto got = RestoreSection::Split(pieces);
      ASSERT_TRUE(got) << a << "," << b;
      ASSERT_EQ(got->size(), expected->size());
      for (size_t s = 0; s < got->size(); ++s) {
        EXPECT_EQ((*got)[s].name, (*expected)[s].name);
        EXPECT_EQ((*got)[s].first_line, (*expected)[s].first_line);
        EXPECT_EQ((*got)[s].declared, (*expected)[s].declared);
        EXPECT_EQ(Joined((*got)[s]), Joined((*expected)[s])) << a << "," << b;
      }
    }
  }
}

// Pieces of rules only (a full sync's chain texts) are passed over counting their lines: the
// next section starts on the right line, and the section still spans them.
TEST(RestoreSectionTest, PiecesOfRulesOnlyAddTheirLines) {
  const std::vector<std::string> texts = {"*nat\n:A - [0:0]\n", "-A A -j DROP\n-A A -j RETURN\n",
                                          "-A A -j ACCEPT\n# a note\n",
                                          "COMMIT\n*filter\n:B - [0:0]\n:C - [0:0]\nCOMMIT\n"};
  const std::vector<std::string_view> pieces(texts.begin(), texts.end());
  auto got = RestoreSection::Split(pieces);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].first_line, 1);
  EXPECT_EQ((*got)[0].declared, 1u);
  EXPECT_EQ(Joined((*got)[0]), texts[0] + texts[1] + texts[2] + "COMMIT\n");
  EXPECT_EQ((*got)[1].name, "filter");
  EXPECT_EQ((*got)[1].first_line, 8);
  EXPECT_EQ((*got)[1].declared, 2u);
  // A piece after the first whose line would open a section is still seen.
  const std::vector<std::string_view> nested = {texts[0], "-A A -j DROP\n*filter\n", "COMMIT\n"};
  EXPECT_FALSE(RestoreSection::Split(nested));
}

// A piece vouched for as rule lines only is not read inside a section (here it holds what would
// otherwise end the section early), yet counted when a section starts after it; outside a
// section the vouching does not apply.
TEST(RestoreSectionTest, PiecesVouchedAsRulesAreNotRead) {
  const std::vector<std::string> texts = {"*nat\n:A - [0:0]\n", "-A A -j DROP\n*x\nCOMMIT\n",
                                          "-A A -j RETURN\n", "COMMIT\n*filter\nCOMMIT\n"};
  const std::vector<std::string_view> pieces(texts.begin(), texts.end());
  const std::vector<uint8_t> rules_only = {0, 1, 1, 0};
  auto got = RestoreSection::Split(pieces, rules_only);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(Joined((*got)[0]), texts[0] + texts[1] + texts[2] + "COMMIT\n");
  EXPECT_EQ((*got)[1].first_line, 8);
  EXPECT_FALSE(RestoreSection::Split(pieces));           // read, the same text is not sections
  const std::vector<uint8_t> from_first = {1, 1, 1, 0};  // the first piece opens the section
  auto same = RestoreSection::Split(pieces, from_first);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->size(), 2u);
}

// Pieces vouched for come in runs, here two split by a piece that is read: every run's lines are
// counted once a section starts after them, and the sections hold every piece in order.
TEST(RestoreSectionTest, RunsOfVouchedPiecesAreAllCounted) {
  const std::vector<std::string> texts = {"*nat\n:A - [0:0]\n:B - [0:0]\n",
                                          "-A A -j DROP\n-A A -j RETURN\n",
                                          "-A B -j ACCEPT\n",
                                          "-A A -j DROP\n",
                                          "-A B -j DROP\n-A B -j DROP\n",
                                          "-A A -j ACCEPT\n",
                                          "COMMIT\n*filter\n:C - [0:0]\nCOMMIT\n"};
  const std::vector<std::string_view> pieces(texts.begin(), texts.end());
  const std::vector<uint8_t> rules_only = {0, 1, 1, 0, 1, 1, 0};
  auto got = RestoreSection::Split(pieces, rules_only);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  std::string nat;
  for (size_t i = 0; i + 1 < texts.size(); ++i) nat += texts[i];
  EXPECT_EQ(Joined((*got)[0]), nat + "COMMIT\n");
  EXPECT_EQ((*got)[0].pieces.size(), texts.size());
  EXPECT_EQ((*got)[0].declared, 2u);
  // The same as when every piece is read: line 12 of the joined text.
  const auto read = RestoreSection::Split(pieces);
  ASSERT_TRUE(read);
  EXPECT_EQ((*read)[1].first_line, 12);
  EXPECT_EQ((*got)[1].first_line, 12);
  EXPECT_EQ((*got)[1].declared, 1u);
}

// Not sections: the parse of the text says what is wrong, not this split.
TEST(RestoreSectionTest, TextOutsideSectionsIsNone) {
  for (const std::string text :
       {"-A X -j DROP\n", "*filter\n:A - [0:0]\n", "*filter\n*nat\nCOMMIT\n", "COMMIT\n"}) {
    const std::string_view whole = text;
    EXPECT_FALSE(RestoreSection::Split({&whole, 1})) << text;
  }
  const std::string blank = "\n# only a comment\n";
  const std::string_view whole = blank;
  auto none = RestoreSection::Split({&whole, 1});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace kpx
