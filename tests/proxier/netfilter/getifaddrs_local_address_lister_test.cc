#include "proxier/netfilter/getifaddrs_local_address_lister.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "proxier/netfilter/fake_local_address_lister.h"

namespace kpx {
namespace {

// The real adapter on this process's namespace: loopback is always there, and the listing is
// sorted without duplicates.
TEST(GetifaddrsLocalAddressListerTest, ListsThisHostsAddresses) {
  GetifaddrsLocalAddressLister lister;
  auto listed = lister.List();
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  EXPECT_NE(std::find(listed->begin(), listed->end(), *IpAddress::Parse("127.0.0.1")),
            listed->end());
  EXPECT_TRUE(std::is_sorted(listed->begin(), listed->end()));
  EXPECT_EQ(std::adjacent_find(listed->begin(), listed->end()), listed->end());
}

TEST(FakeLocalAddressListerTest, ReturnsWhatItIsGivenOrFails) {
  FakeLocalAddressLister fake({*IpAddress::Parse("10.0.0.1")});
  ASSERT_TRUE(fake.List().ok());
  fake.SetFailing(true);
  EXPECT_FALSE(fake.List().ok());
  EXPECT_EQ(fake.calls(), 2);
}

}  // namespace
}  // namespace kpx
