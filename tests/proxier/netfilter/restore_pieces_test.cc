#include "proxier/netfilter/restore_pieces.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

// Owned lines and viewed texts come out in the order written; a viewed text is not copied, and
// owned pieces keep their bytes however many more are written after them.
TEST(RestorePiecesTest, OwnedAndViewedPiecesInOrder) {
  const std::string chain_a = "-A KUBE-SVC-A -j KUBE-SEP-A\n";
  const std::string chain_b = "-A KUBE-SVC-B -j KUBE-SEP-B\n";
  RestorePieces in;
  EXPECT_TRUE(in.empty());
  in.Append("*nat\n");
  in.Append(":KUBE-SVC-A - [0:0]");
  in.Append('\n');
  in.View(chain_a);
  in.View("");  // nothing
  in.View(chain_b);
  for (int i = 0; i < 1000; ++i) in.Append("# " + std::to_string(i) + "\n");
  in.Append("COMMIT\n");
  std::string want = "*nat\n:KUBE-SVC-A - [0:0]\n" + chain_a + chain_b;
  for (int i = 0; i < 1000; ++i) want += "# " + std::to_string(i) + "\n";
  want += "COMMIT\n";
  EXPECT_EQ(in.Join(), want) << "before the pieces are asked for";
  EXPECT_EQ(in.size(), want.size());
  const auto pieces = in.pieces();
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces[0], "*nat\n:KUBE-SVC-A - [0:0]\n");
  EXPECT_EQ(pieces[1].data(), chain_a.data()) << "viewed, not copied";
  EXPECT_EQ(pieces[2].data(), chain_b.data());
  std::string joined;
  for (std::string_view p : pieces) joined += p;
  EXPECT_EQ(joined, want);
  EXPECT_EQ(in.Join(), want);

  // Moved (as Output is returned), the owned pieces' views stay valid.
  RestorePieces moved = std::move(in);
  std::string again;
  for (std::string_view p : moved.pieces()) again += p;
  EXPECT_EQ(again, want);
}

// Pieces viewed as rules only are flagged so, one flag per piece; owned and plain viewed ones not.
TEST(RestorePiecesTest, RulesOnlyPiecesAreFlagged) {
  const std::string rules = "-A KUBE-SVC-A -j KUBE-SEP-A\n";
  const std::string other = "-X KUBE-OLD\n";
  RestorePieces in;
  in.Append("*nat\n");
  in.ViewRules(rules);
  in.ViewRules("");  // nothing
  in.View(other);
  in.Append("COMMIT\n");
  const auto pieces = in.pieces();
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(std::vector<uint8_t>(in.rules_only().begin(), in.rules_only().end()),
            (std::vector<uint8_t>{0, 1, 0, 0}));
}

}  // namespace
}  // namespace kpx
