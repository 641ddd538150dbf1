#include "base/ip_address.h"

#include <gtest/gtest.h>

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
