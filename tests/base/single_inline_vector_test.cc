#include "base/single_inline_vector.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace kpx {
namespace {

template <typename T>
std::vector<T> Items(const SingleInlineVector<T>& v) {
  return {v.begin(), v.end()};
}

TEST(SingleInlineVectorTest, EmptyAndOneHoldNoHeapBlock) {
  SingleInlineVector<std::string> v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.size(), 0u);
  EXPECT_EQ(v.begin(), v.end());
  v.Insert(v.end(), "only");
  EXPECT_FALSE(v.empty());
  ASSERT_EQ(v.size(), 1u);
  // Inline: the element lies within the object itself.
  const auto* self = reinterpret_cast<const char*>(&v);
  const auto* first = reinterpret_cast<const char*>(&v[0]);
  EXPECT_GE(first, self);
  EXPECT_LT(first, self + sizeof(v));
  EXPECT_EQ(v[0], "only");
}

TEST(SingleInlineVectorTest, InsertKeepsPositionsAcrossTheInlineBoundary) {
  SingleInlineVector<std::string> v;
  v.Insert(v.begin(), "b");
  v.Insert(v.begin(), "a");  // before the inline one
  EXPECT_EQ(Items(v), (std::vector<std::string>{"a", "b"}));
  v.Insert(v.end(), "d");
  std::string& c = v.Insert(v.begin() + 2, "c");
  EXPECT_EQ(c, "c");
  EXPECT_EQ(Items(v), (std::vector<std::string>{"a", "b", "c", "d"}));

  SingleInlineVector<std::string> w;
  w.Insert(w.begin(), "y");
  w.Insert(w.end(), "z");  // after the inline one
  EXPECT_EQ(Items(w), (std::vector<std::string>{"y", "z"}));
  w[1] = "zz";
  EXPECT_EQ(Items(w), (std::vector<std::string>{"y", "zz"}));
}

TEST(SingleInlineVectorTest, EraseIfShrinksBackInlineAndToEmpty) {
  SingleInlineVector<std::string> v;
  for (const char* s : {"a", "b", "c"}) v.Insert(v.end(), s);
  EXPECT_EQ(v.EraseIf([](const std::string& s) { return s == "x"; }), 0u);
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v.EraseIf([](const std::string& s) { return s != "b"; }), 2u);
  ASSERT_EQ(v.size(), 1u);
  const auto* self = reinterpret_cast<const char*>(&v);
  const auto* first = reinterpret_cast<const char*>(&v[0]);
  EXPECT_TRUE(first >= self && first < self + sizeof(v));  // moved back inline
  EXPECT_EQ(v[0], "b");
  EXPECT_EQ(v.EraseIf([](const std::string& s) { return s == "a"; }), 0u);
  EXPECT_EQ(v.size(), 1u);
  EXPECT_EQ(v.EraseIf([](const std::string& s) { return s == "b"; }), 1u);
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.EraseIf([](const std::string&) { return true; }), 0u);

  for (const char* s : {"a", "b"}) v.Insert(v.end(), s);
  EXPECT_EQ(v.EraseIf([](const std::string&) { return true; }), 2u);
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.begin(), v.end());
}

TEST(SingleInlineVectorTest, AssignTakesMoveOnlyElements) {
  SingleInlineVector<std::unique_ptr<int>> v;
  std::vector<std::unique_ptr<int>> two;
  two.push_back(std::make_unique<int>(1));
  two.push_back(std::make_unique<int>(2));
  v.Assign(std::move(two));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(*v[0], 1);
  EXPECT_EQ(*v[1], 2);
  std::vector<std::unique_ptr<int>> one;
  one.push_back(std::make_unique<int>(3));
  v.Assign(std::move(one));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(*v[0], 3);
  v.Assign({});
  EXPECT_TRUE(v.empty());
  SingleInlineVector<std::unique_ptr<int>> moved;
  v.Insert(v.end(), std::make_unique<int>(4));
  moved = std::move(v);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(*moved[0], 4);
}

}  // namespace
}  // namespace kpx
