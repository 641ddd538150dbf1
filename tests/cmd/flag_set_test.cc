#include "cmd/flag_set.h"

#include <gtest/gtest.h>

#include <vector>

namespace kpx {
namespace {

class FlagSetTest : public ::testing::Test {
 protected:
  FlagSetTest() {
    flags_.String("mode", &mode_, "m");
    flags_.Bool("cleanup", &cleanup_, "c");
    flags_.Int("v", &v_, "v");
    flags_.Duration("sync-period", &period_, "p");
    flags_.Alias("iptables-sync-period", "sync-period");
    flags_.StringList("cluster-cidr", &cidrs_, "c");
  }
  Status Parse(std::vector<const char*> args) {
    args.insert(args.begin(), "kpx");
    return flags_.Parse(static_cast<int>(args.size()), args.data());
  }

  FlagSet flags_;
  std::string mode_ = "iptables";
  bool cleanup_ = false;
  int32_t v_ = 0;
  std::chrono::milliseconds period_{30000};
  std::vector<std::string> cidrs_ = {"10.0.0.0/8"};
};

TEST_F(FlagSetTest, AcceptsPflagSyntax) {
  ASSERT_TRUE(Parse({"--mode", "ipvs", "-v=4", "--cleanup", "--iptables-sync-period=1m",
                     "--cluster-cidr=10.1.0.0/16,fd00::/48", "--cluster-cidr", "10.2.0.0/16"})
                  .ok());
  EXPECT_EQ(mode_, "ipvs");
  EXPECT_EQ(v_, 4);
  EXPECT_TRUE(cleanup_);
  EXPECT_EQ(period_.count(), 60000);
  EXPECT_EQ(cidrs_, (std::vector<std::string>{"10.1.0.0/16", "fd00::/48", "10.2.0.0/16"}));
  EXPECT_TRUE(flags_.WasSet("sync-period"));
  EXPECT_FALSE(flags_.WasSet("mode") == false);
}

TEST_F(FlagSetTest, ReparsingReplacesListsInsteadOfAppending) {
  ASSERT_TRUE(Parse({"--cluster-cidr=10.1.0.0/16"}).ok());
  cidrs_ = {"192.168.0.0/16"};  // as if a config file had been loaded in between
  ASSERT_TRUE(Parse({"--cluster-cidr=10.1.0.0/16"}).ok());
  EXPECT_EQ(cidrs_, (std::vector<std::string>{"10.1.0.0/16"}));
}

TEST_F(FlagSetTest, RejectsBadInputWithAClearMessage) {
  struct Case {
    std::vector<const char*> args;
    const char* message;
  };
  const Case cases[] = {
      {{"--nope"}, "unknown flag: --nope"},
      {{"--mode"}, "flag needs an argument: --mode"},
      {{"--cleanup=maybe"}, "invalid boolean \"maybe\" for --cleanup"},
      {{"-v=x"}, "invalid integer \"x\" for --v"},
      {{"--sync-period=10"},
       "invalid duration \"10\" for --sync-period (want e.g. 30s, 1m, 250ms)"},
      {{"positional"}, "unexpected argument \"positional\" (kpx takes flags only)"},
  };
  for (const auto& c : cases) {
    const Status st = Parse(c.args);
    EXPECT_FALSE(st.ok()) << c.args[0];
    EXPECT_EQ(st.message(), c.message);
  }
}

TEST_F(FlagSetTest, UsageListsFlagsWithDefaults) {
  const std::string usage = flags_.Usage();
  EXPECT_NE(usage.find("--mode value\n      m (default iptables)"), std::string::npos) << usage;
  EXPECT_NE(usage.find("--iptables-sync-period\n      Same as --sync-period."), std::string::npos);
}

}  // namespace
}  // namespace kpx
