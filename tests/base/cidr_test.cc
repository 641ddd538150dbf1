#include "base/cidr.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

TEST(CidrTest, ParsesAndMasksHostBits) {
  EXPECT_EQ(Cidr::Parse("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(Cidr::Parse("10.1.2.3/27")->ToString(), "10.1.2.0/27");
  EXPECT_EQ(Cidr::Parse("fd00::1:2/112")->ToString(), "fd00::1:0/112");
  EXPECT_EQ(Cidr::Parse("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(Cidr::Parse("192.168.1.1/32")->ToString(), "192.168.1.1/32");
}

TEST(CidrTest, RejectsMalformedPrefixes) {
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "fd00::/129",
                          "10.0.0.0/8x", "x/8", "10.0.0.0/08 "}) {
    EXPECT_FALSE(Cidr::Parse(bad).has_value()) << bad;
  }
}

TEST(CidrTest, ContainsOnlyAddressesOfItsFamilyInsideThePrefix) {
  const Cidr c = *Cidr::Parse("10.1.0.0/16");
  EXPECT_TRUE(c.Contains(*IpAddress::Parse("10.1.255.7")));
  EXPECT_FALSE(c.Contains(*IpAddress::Parse("10.2.0.1")));
  EXPECT_FALSE(c.Contains(*IpAddress::Parse("::a01:1")));
  EXPECT_TRUE(Cidr::Parse("0.0.0.0/0")->Contains(*IpAddress::Parse("1.2.3.4")));
  const Cidr c6 = *Cidr::Parse("fd00:10::/100");
  EXPECT_TRUE(c6.Contains(*IpAddress::Parse("fd00:10::fff:1")));
  EXPECT_FALSE(c6.Contains(*IpAddress::Parse("fd00:10::1000:0:1")));
  EXPECT_EQ(Cidr::Host(*IpAddress::Parse("fd00::1")).ToString(), "fd00::1/128");
}

}  // namespace
}  // namespace kpx
