#include "base/rfc3339.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

using std::chrono::system_clock;

// Seconds since the epoch of a parsed time, for readable expectations.
double Epoch(std::string_view text) {
  const auto t = ParseRfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t ? std::chrono::duration<double>(t->time_since_epoch()).count() : -1;
}

TEST(Rfc3339Test, ParsesTheApiServersForms) {
  // date -u -d 2024-05-02T09:15:11Z +%s
  EXPECT_DOUBLE_EQ(Epoch("2024-05-02T09:15:11Z"), 1714641311);
  EXPECT_DOUBLE_EQ(Epoch("2024-05-02T09:15:11.5Z"), 1714641311.5);
  EXPECT_NEAR(Epoch("2024-05-02T09:15:11.123456789Z"), 1714641311.123456789, 1e-6);
  EXPECT_DOUBLE_EQ(Epoch("2024-05-02T11:15:11+02:00"), 1714641311);
  EXPECT_DOUBLE_EQ(Epoch("2024-05-02T04:45:11-04:30"), 1714641311);
  EXPECT_DOUBLE_EQ(Epoch("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_DOUBLE_EQ(Epoch("1970-01-01T00:00:00Z"), 0);
}

TEST(Rfc3339Test, NanosecondsAreKept) {
  const auto a = ParseRfc3339("2024-05-02T09:15:11.000000001Z");
  const auto b = ParseRfc3339("2024-05-02T09:15:11Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::nanoseconds>(*a - *b).count(), 1);
}

TEST(Rfc3339Test, RejectsAnythingElse) {
  for (const char* bad : {"", "2024-05-02", "2024-05-02 09:15:11Z", "2024-05-02T09:15:11",
                          "2024-05-02T09:15Z", "2024-13-02T09:15:11Z", "2023-02-29T09:15:11Z",
                          "2024-05-02T24:00:00Z", "2024-05-02T09:60:11Z", "2024-05-02T09:15:11.Z",
                          "2024-05-02T09:15:11Zjunk", "2024-05-02T09:15:11+0200",
                          "2024-05-02T09:15:11+24:00", "yesterday", "2024-5-02T09:15:11Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(Rfc3339Test, FormatsAsTheControllerStampsAndReadsBackExactly) {
  using std::chrono::nanoseconds;
  using std::chrono::system_clock;
  const system_clock::time_point t{std::chrono::duration_cast<system_clock::duration>(
      std::chrono::seconds(1714641311) + nanoseconds(123456789))};
  EXPECT_EQ(FormatRfc3339(t), "2024-05-02T09:15:11.123456789Z");
  EXPECT_EQ(FormatRfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000000000Z");
  const auto now = system_clock::now();
  auto back = ParseRfc3339(FormatRfc3339(now));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, now);
}

}  // namespace
}  // namespace kpx
