#include "base/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "base/cidr.h"

namespace kpx {
namespace {

TEST(IpAddressTest, ParsesAndPrintsCanonicalForms) {
  struct Case {
    const char* in;
    const char* out;  // nullptr: rejected
    IpFamily family;
  };
  const Case cases[] = {
      {"10.0.0.1", "10.0.0.1", IpFamily::kIPv4},
      {"fd00:0:0::0001", "fd00::1", IpFamily::kIPv6},
      {"2001:DB8::A", "2001:db8::a", IpFamily::kIPv6},
      {"::ffff:10.0.0.1", nullptr, IpFamily::kIPv6},  // v4-mapped smuggles a v4 address
      {"10.0.0", nullptr, IpFamily::kIPv4},
      {"10.0.0.256", nullptr, IpFamily::kIPv4},
      {"", nullptr, IpFamily::kIPv4},
      {"10.0.0.1 ", nullptr, IpFamily::kIPv4},
      {"10.0.0.1\n-j ACCEPT", nullptr, IpFamily::kIPv4},
  };
  for (const auto& c : cases) {
    auto ip = IpAddress::Parse(c.in);
    if (c.out == nullptr) {
      EXPECT_FALSE(ip.has_value()) << c.in;
      continue;
    }
    ASSERT_TRUE(ip.has_value()) << c.in;
    EXPECT_EQ(ip->ToString(), c.out);
    EXPECT_EQ(ip->family(), c.family);
  }
}

TEST(IpAddressTest, PrintsEveryIpv4OctetAsInetNtop) {
  for (unsigned v = 0; v < 256; ++v) {
    const unsigned w = (v * 7 + 3) % 256;
    for (const std::array<uint8_t, 4>& b :
         {std::array<uint8_t, 4>{static_cast<uint8_t>(v), 0, static_cast<uint8_t>(w), 255},
          std::array<uint8_t, 4>{255, static_cast<uint8_t>(w), 0, static_cast<uint8_t>(v)}}) {
      char want[INET_ADDRSTRLEN];
      ASSERT_NE(inet_ntop(AF_INET, b.data(), want, sizeof(want)), nullptr);
      auto ip = IpAddress::Parse(want);
      ASSERT_TRUE(ip.has_value()) << want;
      EXPECT_EQ(ip->ToString(), want);
    }
  }
}

TEST(IpAddressTest, ClassifiesLoopbackAndUnspecified) {
  EXPECT_TRUE(IpAddress::Parse("127.3.0.1")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("::1")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("10.0.0.1")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("0.0.0.0")->IsUnspecified());
  EXPECT_TRUE(IpAddress::Parse("::")->IsUnspecified());
  EXPECT_FALSE(IpAddress::Parse("::2")->IsUnspecified());
}

TEST(IpAddressTest, OrdersV4BeforeV6AndNumerically) {
  EXPECT_LT(*IpAddress::Parse("10.0.0.2"), *IpAddress::Parse("10.0.0.10"));
  EXPECT_LT(*IpAddress::Parse("255.255.255.255"), *IpAddress::Parse("::1"));
  EXPECT_EQ(IpAddress::FromV4(0x0a000001), *IpAddress::Parse("10.0.0.1"));
}

}  // namespace
}  // namespace kpx

namespace kpx {
namespace {

// kube-proxy's ParseIPSloppy / ParseCIDRSloppy: leading zeros are decimal, not octal.
TEST(IpAddressTest, SloppyParsingReadsLegacyLeadingZerosAsDecimal) {
  EXPECT_FALSE(IpAddress::Parse("172.30.0.041").has_value());
  EXPECT_EQ(IpAddress::ParseSloppy("172.30.0.041"), IpAddress::Parse("172.30.0.41"));
  EXPECT_EQ(IpAddress::ParseSloppy("010.180.00.001"), IpAddress::Parse("10.180.0.1"));
  EXPECT_EQ(IpAddress::ParseSloppy("fd00::1"), IpAddress::Parse("fd00::1"));
  for (const char* bad :
       {"1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.0004", "1..2.3", "1.2.3.4 ", "", "a.b.c.d"}) {
    EXPECT_FALSE(IpAddress::ParseSloppy(bad).has_value()) << bad;
  }
  EXPECT_EQ(Cidr::ParseSloppy("203.0.113.000/025"), Cidr::Parse("203.0.113.0/25"));
  EXPECT_FALSE(Cidr::ParseSloppy("203.0.113.000/33").has_value());
}

}  // namespace
}  // namespace kpx
