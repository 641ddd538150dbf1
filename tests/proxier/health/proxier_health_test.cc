#include "proxier/health/proxier_health.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Mono = ProxierHealth::Clock;

const Mono::time_point kNow = Mono::time_point(seconds(1000));
const std::chrono::system_clock::time_point kWall =
    std::chrono::system_clock::time_point(seconds(1795660000)) + milliseconds(250);

TEST(ProxierHealthTest, HealthyWithNothingPending) {
  const auto r =
      ProxierHealth::Evaluate(kNow, kWall, std::nullopt, std::nullopt, seconds(60), std::nullopt);
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body,
            "{\"lastUpdated\": \"0001-01-01T00:00:00Z\",\"currentTime\": "
            "\"2026-11-26T02:26:40.250000Z\"}");
}

TEST(ProxierHealthTest, UnhealthyWhenAChangeWaitedLongerThanTheTimeout) {
  EXPECT_TRUE(
      ProxierHealth::Evaluate(kNow, kWall, kNow - seconds(59), kWall, seconds(60), std::nullopt)
          .healthy);
  const auto r =
      ProxierHealth::Evaluate(kNow, kWall, kNow - seconds(60), kWall, seconds(60), std::nullopt);
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.code, 503);
}

TEST(ProxierHealthTest, NodeBeingDeletedFailsHealthzOnly) {
  const auto r = ProxierHealth::Evaluate(kNow, kWall, std::nullopt, kWall, seconds(60), false);
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.code, 503);
  EXPECT_NE(r.body.find("\"nodeEligible\": false"), std::string::npos);
}

}  // namespace
}  // namespace kpx
