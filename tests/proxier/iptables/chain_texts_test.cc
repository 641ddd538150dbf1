#include "proxier/iptables/chain_texts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace kpx {
namespace {

TEST(ChainTextsTest, AWriterGoingByNameFreesTheGroupsBehindIt) {
  ChainTexts texts;
  // Rendered by service, scattered over the name order; some names shorter than a group's key.
  std::vector<std::string> names = {"KUBE-SVC-ZZZZ", "KUBE-SEP-BBBB", "KUBE-SEP-AAAA",
                                    "KUBE-FW",       "KUBE-SEP-A",    "KUBE-SEP-BAAA",
                                    "KUBE-EXT-QQQQ", "KUBE-SVC-AAAA"};
  std::vector<std::string_view> views;
  for (const std::string& n : names) views.push_back(texts.Add(n, "-A " + n + " -j ACCEPT\n"));
  const size_t all = texts.bytes();
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
  size_t before = all;
  for (size_t i : order) {
    texts.ReleaseBefore(names[i]);
    // Its own text is still there, whatever was freed before it.
    EXPECT_EQ(views[i], "-A " + names[i] + " -j ACCEPT\n") << names[i];
    EXPECT_LE(texts.bytes(), before);
    before = texts.bytes();
  }
  // Going by, the groups before the last name's were freed: only its group is left.
  EXPECT_EQ(texts.bytes(), views[0].size());
  texts.Clear();
  EXPECT_EQ(texts.bytes(), 0u);
}

TEST(ChainTextsTest, NamesSharingAGroupStayUntilTheWriterLeavesIt) {
  ChainTexts texts;
  const std::string_view a = texts.Add("KUBE-SEP-AAAAAA", "a\n");
  const std::string_view b = texts.Add("KUBE-SEP-AZZZZZ", "b\n");
  texts.ReleaseBefore("KUBE-SEP-AAAAAA");
  texts.ReleaseBefore("KUBE-SEP-AZZZZZ");  // same group ("KUBE-SEP-A"): nothing freed
  EXPECT_EQ(a, "a\n");
  EXPECT_EQ(b, "b\n");
  EXPECT_EQ(texts.bytes(), 4u);
  texts.ReleaseBefore("KUBE-SEP-B");
  EXPECT_EQ(texts.bytes(), 0u);
}

// Ungrouped (a reader that takes every text in place), the texts share one arena and stay until
// Clear: a writer's ReleaseBefore frees nothing.
TEST(ChainTextsTest, UngroupedTextsStayUntilCleared) {
  ChainTexts texts;
  texts.SetGrouped(false);
  const std::string_view a = texts.Add("KUBE-SEP-AAAAAA", "a\n");
  const std::string_view z = texts.Add("KUBE-SVC-ZZZZZZ", "z\n");
  texts.ReleaseBefore("KUBE-SVC-ZZZZZZ");
  texts.ReleaseBefore("KUBE-ZZZ");
  EXPECT_EQ(a, "a\n");
  EXPECT_EQ(z, "z\n");
  EXPECT_EQ(texts.bytes(), 4u);
  texts.Clear();
  EXPECT_EQ(texts.bytes(), 0u);
  // The next sync's texts go where the last one's started: its arena's first block is kept.
  const std::string_view next = texts.Add("KUBE-SEP-BBBBBB", "b\n");
  EXPECT_EQ(next.data(), a.data());
  EXPECT_EQ(next, "b\n");
}

}  // namespace
}  // namespace kpx
