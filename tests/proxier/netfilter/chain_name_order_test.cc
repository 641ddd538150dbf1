#include "proxier/netfilter/chain_name_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace kpx {
namespace {

TEST(ChainNameOrderTest, KeyedSortsAsStrcmpDoes) {
  // Names alike in their first 16 bytes and beyond, prefixes of one another, bytes above 0x7f
  // (strcmp compares them unsigned), and kpx's own kinds of names.
  std::vector<std::string> names = {"KUBE-SEP-AAAAAAAAAAAAAAAA",
                                    "KUBE-SEP-AAAAAAAAAAAAAAAB",
                                    "KUBE-SEP-AAAAAAA",
                                    "KUBE-SEP-AAAAAAAA",
                                    "KUBE-SEP-AAAAAAAAZ",
                                    "KUBE-SVC-XPGD46QRK7WJZT7O",
                                    "KUBE-SERVICES",
                                    "KUBE-MARK-MASQ",
                                    "A",
                                    "",
                                    "KUBE-SEP-\xc3\xa9",
                                    "KUBE-SEP-z"};
  for (int i = 0; i < 200; ++i) {
    names.push_back("KUBE-SEP-" + std::to_string(i * 7919 % 1000) + "-" + std::to_string(i));
  }
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end(), [](const std::string& a, const std::string& b) {
    return a.compare(b) < 0;  // bytewise, unsigned, as strcmp
  });
  std::mt19937 rng(7);
  std::shuffle(names.begin(), names.end(), rng);
  std::vector<ChainNameOrder::Keyed<size_t>> keyed;
  for (size_t i = 0; i < names.size(); ++i) {
    keyed.push_back(ChainNameOrder::Keyed<size_t>::Of(names[i], i));
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> sorted;
  for (const auto& k : keyed) sorted.push_back(names[k.item]);
  EXPECT_EQ(sorted, expected);
}

TEST(ChainNameOrderTest, PrefixesOrderAsTheirNames) {
  EXPECT_LT(ChainNameOrder::Prefix("KUBE-SEP-B"), ChainNameOrder::Prefix("KUBE-SVC-A"));
  EXPECT_LT(ChainNameOrder::Prefix("KUBE-SEP"), ChainNameOrder::Prefix("KUBE-SEP-"));
  EXPECT_LT(ChainNameOrder::Prefix("a"), ChainNameOrder::Prefix("\xff"));
  // Alike in 16 bytes: the prefixes tie and the names decide.
  EXPECT_EQ(ChainNameOrder::Prefix("0123456789abcdefX"),
            ChainNameOrder::Prefix("0123456789abcdefY"));
}

}  // namespace
}  // namespace kpx
