#include "base/text_arena.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

TEST(TextArenaTest, CopiesStayPutAsTheArenaGrows) {
  TextArena arena;
  std::vector<std::string> texts;
  std::vector<std::string_view> views;
  // Enough to fill several blocks, with one text larger than a block among them.
  for (int i = 0; i < 40000; ++i) {
    texts.push_back("-A KUBE-SEP-" + std::to_string(i) + " -j DNAT --to-destination 10.0.0." +
                    std::to_string(i % 256) + ":80\n");
    if (i == 20000) texts.push_back(std::string((size_t{2} << 20) + 7, 'x'));
  }
  size_t total = 0;
  for (const std::string& t : texts) {
    views.push_back(arena.Add(t));
    total += t.size();
  }
  ASSERT_EQ(views.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) ASSERT_EQ(views[i], texts[i]) << i;
  EXPECT_EQ(arena.bytes(), total);
  // Each copy is its own, not the caller's text.
  EXPECT_NE(views[0].data(), texts[0].data());
  EXPECT_TRUE(arena.Add("").empty());
  arena.Clear();
  EXPECT_EQ(arena.bytes(), 0u);
  EXPECT_EQ(arena.Add("again"), "again");
}

TEST(TextArenaTest, ClearKeepsOnlyASmallFirstBlockForTheNextTexts) {
  TextArena small;
  const std::string_view first = small.Add("-A KUBE-SVC-X -j KUBE-SEP-Y\n");
  small.Clear();
  EXPECT_EQ(small.bytes(), 0u);
  // The same first block, from its start: no new mapping for a sync that renders a few KB.
  const std::string_view again = small.Add("-A KUBE-SVC-X -j KUBE-SEP-Z\n");
  EXPECT_EQ(again.data(), first.data());
  EXPECT_EQ(again, "-A KUBE-SVC-X -j KUBE-SEP-Z\n");

  // A first block made larger for a large first text is not kept (nor are later blocks): a
  // full sync's arena goes whole, and the next text gets a block of its own again.
  TextArena large;
  const std::string big(size_t{200} << 10, 'x');
  EXPECT_EQ(large.Add(big), big);
  large.Clear();
  EXPECT_EQ(large.bytes(), 0u);
  EXPECT_EQ(large.Add("y"), "y");
}

}  // namespace
}  // namespace kpx
