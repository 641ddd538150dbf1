#include "cmd/duration.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesGoDurations) {
  const std::pair<const char*, int64_t> good[] = {
      {"0", 0},        {"30s", 30000}, {"1m30s", 90000},   {"250ms", 250},
      {"1h", 3600000}, {"1.5s", 1500}, {"2h45m", 9900000}, {"1500us", 2},
  };
  for (const auto& [text, ms] : good) {
    auto d = ParseGoDuration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
  for (const char* bad : {"", "30", "s", "-1s", "1x", "1s2", "1..2s", " 1s"}) {
    EXPECT_FALSE(ParseGoDuration(bad).has_value()) << bad;
  }
}

TEST(DurationTest, FormatsForMessages) {
  EXPECT_EQ(FormatGoDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatGoDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(FormatGoDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatGoDuration(milliseconds(1500)), "1.500s");
  EXPECT_EQ(FormatGoDuration(milliseconds(3600000)), "1h");
}

}  // namespace
}  // namespace kpx
