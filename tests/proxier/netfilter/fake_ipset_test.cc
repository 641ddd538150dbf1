#include "proxier/netfilter/fake_ipset.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace kpx {
namespace {

std::set<std::string> Entries(const FakeIpset& ipset, const std::string& name) {
  const FakeIpset::Set* s = ipset.Find(name);
  return s ? s->entries : std::set<std::string>{};
}

// A failing restore leaves every set as it was before it, whatever the earlier lines did.
TEST(FakeIpsetTest, FailedRestoreChangesNothing) {
  FakeIpset ipset;
  ASSERT_TRUE(ipset.Restore("create A hash:ip\nadd A 10.0.0.1\nadd A 10.0.0.2\n").ok());
  EXPECT_FALSE(ipset
                   .Restore("del A 10.0.0.1\nadd A 10.0.0.3\nflush A\nadd A 10.0.0.4\n"
                            "create B hash:ip\nadd B 10.0.0.9\nadd C 10.0.0.1\n")
                   .ok());
  EXPECT_EQ(Entries(ipset, "A"), (std::set<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(ipset.Find("B"), nullptr);

  EXPECT_FALSE(ipset.Restore("del A 10.0.0.2\nadd A 10.0.0.5\nfrobnicate A\n").ok());
  EXPECT_EQ(Entries(ipset, "A"), (std::set<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(ipset.restores().size(), 1u);
}

TEST(FakeIpsetTest, RestoreAppliesAddDelWithExistSemantics) {
  FakeIpset ipset;
  ASSERT_TRUE(ipset.Restore("create A hash:ip\nadd A 10.0.0.1\n").ok());
  ASSERT_TRUE(ipset.Restore("add A 10.0.0.1\ndel A 10.0.0.7\nadd A 10.0.0.2\n").ok());
  EXPECT_EQ(Entries(ipset, "A"), (std::set<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_FALSE(ipset.Restore("create A bitmap:port\n").ok()) << "another type";
}

}  // namespace
}  // namespace kpx
