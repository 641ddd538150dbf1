// NftElementList against the NftElements it stands for: round trips of every kind of value,
// keys and data of several lengths in one list (the arenas re-stride), value comparisons, the
// key order, and refusals of what no kernel element can be.
#include "proxier/nftables/nft_element_list.h"

#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace kpx {
namespace {

NftValue Data(const std::string& bytes) { return NftValue{bytes, false, 0, ""}; }
NftValue Goto(const std::string& chain) { return NftValue{"", true, NFT_GOTO, chain}; }
NftValue Drop() { return NftValue{"", true, NF_DROP, ""}; }

TEST(NftElementListTest, KeepsEveryKindOfValue) {
  const std::vector<NftElement> in = {
      {"s", std::string("\x01\x00\x00\x00", 4), NftValue{}},
      {"s", std::string("\x02\x00\x00\x00", 4), Data(std::string("\x0a\x00\x00\x01\x00\x50", 6))},
      {"s", std::string("\x03\x00\x00\x00", 4), Goto("ep-3")},
      {"s", std::string("\x04\x00\x00\x00", 4), Drop()},
      {"s", std::string("\x05\x00\x00\x00", 4), Goto("ep-3")},
      {"s", std::string(16, '\x07'), Data(std::string(20, '\x09'))},  // wider key and data
      {"s", std::string("\x08", 1), Goto("a-chain-with-a-long-name")},
  };
  NftElementList list;
  for (const auto& e : in) ASSERT_TRUE(list.Add(e.key, e.value));
  ASSERT_EQ(list.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(list.ElementAt("s", i), in[i]) << i;
    EXPECT_EQ(list.KeyAt(i), in[i].key) << i;
    EXPECT_EQ(list.DataAt(i), in[i].value.data) << i;
    EXPECT_TRUE(list.ValueEquals(i, in[i].value)) << i;
    const NftElementView v = list.ViewAt(i);
    EXPECT_EQ(v.is_verdict, in[i].value.is_verdict);
    EXPECT_EQ(v.verdict, in[i].value.verdict);
    EXPECT_EQ(std::string(v.chain != nullptr ? v.chain : ""), in[i].value.chain);
  }
  EXPECT_FALSE(list.ValueEquals(2, Goto("ep-4")));
  EXPECT_FALSE(list.ValueEquals(2, NftValue{}));
  EXPECT_FALSE(list.ValueEquals(1, Data(std::string("\x0a\x00\x00\x01\x00\x51", 6))));
  EXPECT_FALSE(list.ValueEquals(0, Drop()));
  EXPECT_TRUE(list.SameValue(2, list, 4));
  EXPECT_FALSE(list.SameValue(2, list, 3));
  EXPECT_FALSE(list.SameValue(0, list, 1));
}

TEST(NftElementListTest, ValuesCompareAcrossListsByContentNotByInterning) {
  NftElementList a, b;
  a.Add("k1", Goto("x"));
  a.Add("k2", Goto("y"));
  b.Add("k2", Goto("y"));  // "y" is b's first chain, a's second
  b.Add("k1", Data("d"));
  EXPECT_TRUE(a.SameValue(1, b, 0));
  EXPECT_FALSE(a.SameValue(0, b, 1));
  EXPECT_FALSE(b.SameValue(1, a, 0));
}

TEST(NftElementListTest, ListsWithoutDataOrVerdictsHoldOnlyKeys) {
  NftElementList list;
  list.Reserve(1000, 8, 0);
  const size_t reserved = list.HeapBytes();
  for (uint32_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(list.Add(std::string(reinterpret_cast<const char*>(&i), 4) + "abcd", NftValue{}));
  }
  EXPECT_EQ(list.HeapBytes(), reserved) << "filled within what was reserved";
  EXPECT_LE(list.HeapBytes(), 1000u * 9);  // key bytes and a length byte
  EXPECT_EQ(list.DataAt(999), "");
  EXPECT_EQ(list.ValueAt(999), NftValue{});
}

TEST(NftElementListTest, DataThatStartsLaterKeepsEarlierElementsEmpty) {
  NftElementList list;
  list.Add("a", NftValue{});
  list.Add("b", NftValue{});
  list.Add("c", Data("xyz"));
  list.Add("d", Goto("late"));
  EXPECT_EQ(list.ValueAt(0), NftValue{});
  EXPECT_EQ(list.ValueAt(1), NftValue{});
  EXPECT_EQ(list.ValueAt(2), Data("xyz"));
  EXPECT_EQ(list.ValueAt(3), Goto("late"));
}

TEST(NftElementListTest, SortedByKeyOrdersBytesAsStringsDo) {
  std::mt19937 rng(7);
  NftElementList list;
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) {
    std::string k(1 + rng() % 12, '\0');
    for (char& c : k) c = static_cast<char>(rng() % 4);  // short alphabet: shared prefixes
    keys.push_back(k);
    list.Add(k, NftValue{});
  }
  const std::vector<uint32_t> order = list.SortedByKey();
  ASSERT_EQ(order.size(), keys.size());
  std::vector<std::string> sorted;
  for (uint32_t i : order) sorted.emplace_back(list.KeyAt(i));
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sorted, expected);
  EXPECT_TRUE(std::is_permutation(order.begin(), order.end(),
                                  list.SortedByKey().begin()));  // every position once
}

TEST(NftElementListTest, SortedOnceKeepsEachKeyAtItsFirstPosition) {
  NftElementList list;
  for (const char* k : {"b", "a", "b", "c", "a"}) list.Add(k, NftValue{});
  EXPECT_EQ(list.SortedByKeyOnce(), (std::vector<uint32_t>{1, 0, 3}));
  EXPECT_TRUE(NftElementList().SortedByKeyOnce().empty());
}

TEST(NftElementListTest, RefusesWhatNoKernelElementCanBe) {
  NftElementList list;
  EXPECT_FALSE(list.Add(std::string(256, 'k'), NftValue{}));
  EXPECT_FALSE(list.Add("k", Data(std::string(256, 'd'))));
  EXPECT_TRUE(list.empty());
  EXPECT_TRUE(list.Add(std::string(255, 'k'), Data(std::string(255, 'd'))));
  EXPECT_EQ(list.KeyAt(0).size(), 255u);
  list.Clear();
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.HeapBytes(), 0u);
}

}  // namespace
}  // namespace kpx
