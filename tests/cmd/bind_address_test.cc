#include "cmd/bind_address.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

// kube-proxy's proxyutil.AppendPortIfNeeded, case by case.
TEST(BindAddressTest, AppendsThePortOnlyToABareIp) {
  EXPECT_EQ(AppendPortIfNeeded("0.0.0.0", 10249), "0.0.0.0:10249");
  EXPECT_EQ(AppendPortIfNeeded("127.0.0.1:9999", 10249), "127.0.0.1:9999");
  EXPECT_EQ(AppendPortIfNeeded("::", 10256), "[::]:10256");
  EXPECT_EQ(AppendPortIfNeeded("fd00::1", 10256), "[fd00::1]:10256");
  EXPECT_EQ(AppendPortIfNeeded("[::1]:10249", 10256), "[::1]:10249");
  EXPECT_EQ(AppendPortIfNeeded("localhost", 10256), "localhost");  // left for validation
  EXPECT_EQ(AppendPortIfNeeded("", 10256), "");
}

TEST(BindAddressTest, DefaultsFollowTheBindAddressFamily) {
  EXPECT_EQ(DefaultHealthzAddress("0.0.0.0"), "0.0.0.0:10256");
  EXPECT_EQ(DefaultMetricsAddress("10.0.0.1"), "127.0.0.1:10249");
  EXPECT_EQ(DefaultHealthzAddress("::"), "[::]:10256");
  EXPECT_EQ(DefaultMetricsAddress("::"), "[::1]:10249");
}

}  // namespace
}  // namespace kpx
