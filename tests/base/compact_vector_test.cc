#include "base/compact_vector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"

namespace kpx {
namespace {

IpAddress Ip(const std::string& s) { return *IpAddress::Parse(s); }

TEST(CompactVectorTest, EmptyIsOnePointerAndNoAllocation) {
  static_assert(sizeof(CompactVector<IpAddress>) == sizeof(void*));
  CompactVector<IpAddress> v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.size(), 0u);
  EXPECT_EQ(v.begin(), v.end());
  EXPECT_EQ(v, CompactVector<IpAddress>(std::vector<IpAddress>{}));
  int n = 0;
  for (const auto& ip : v) n += ip.bytes()[0];
  EXPECT_EQ(n, 0);
}

TEST(CompactVectorTest, HoldsWhatItWasGivenInOrder) {
  const std::vector<IpAddress> from = {Ip("203.0.113.7"), Ip("fd00::7"), Ip("10.0.0.1")};
  CompactVector<IpAddress> v = from;
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], Ip("203.0.113.7"));
  EXPECT_EQ(v[1], Ip("fd00::7"));
  EXPECT_EQ(v.front(), Ip("203.0.113.7"));
  EXPECT_EQ(v.ToVector(), from);
  EXPECT_EQ(v, from);
  CompactVector<IpAddress> listed = {Ip("203.0.113.7"), Ip("fd00::7"), Ip("10.0.0.1")};
  EXPECT_EQ(v, listed);
  listed = {Ip("203.0.113.7")};
  EXPECT_FALSE(v == listed);
}

TEST(CompactVectorTest, CopiesAreDeepAndMovesEmptyTheSource) {
  CompactVector<Cidr> a = {*Cidr::Parse("198.51.100.0/24")};
  CompactVector<Cidr> b = a;
  a.push_back(*Cidr::Parse("2001:db8::/64"));
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], *Cidr::Parse("2001:db8::/64"));
  CompactVector<Cidr> c = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(c.size(), 2u);
  const CompactVector<Cidr>& same = c;
  c = same;  // self-assignment keeps the items
  EXPECT_EQ(c.size(), 2u);
  c.clear();
  EXPECT_TRUE(c.empty());
  c.push_back(b[0]);
  EXPECT_EQ(c, b);
}

}  // namespace
}  // namespace kpx
