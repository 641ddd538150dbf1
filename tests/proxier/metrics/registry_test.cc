#include "proxier/metrics/registry.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

TEST(MetricsRegistryTest, RendersPrometheusTextFormat) {
  MetricsRegistry r;
  r.GetCounter("kpx_b_total", "B things", {{"kind", "svc"}})->Inc(2);
  r.GetGauge("kpx_a", "A level")->Set(1.5);
  auto* h = r.GetHistogram("kpx_c_seconds", "C time", {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  EXPECT_EQ(r.Render(),
            "# HELP kpx_a A level\n"
            "# TYPE kpx_a gauge\n"
            "kpx_a 1.5\n"
            "# HELP kpx_b_total B things\n"
            "# TYPE kpx_b_total counter\n"
            "kpx_b_total{kind=\"svc\"} 2\n"
            "# HELP kpx_c_seconds C time\n"
            "# TYPE kpx_c_seconds histogram\n"
            "kpx_c_seconds_bucket{le=\"0.1\"} 1\n"
            "kpx_c_seconds_bucket{le=\"1\"} 2\n"
            "kpx_c_seconds_bucket{le=\"+Inf\"} 3\n"
            "kpx_c_seconds_sum 5.55\n"
            "kpx_c_seconds_count 3\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsGiveTheSameMetric) {
  MetricsRegistry r;
  EXPECT_EQ(r.GetCounter("x_total", "x"), r.GetCounter("x_total", "x"));
  EXPECT_NE(r.GetCounter("x_total", "x", {{"a", "1"}}), r.GetCounter("x_total", "x"));
  EXPECT_THROW(r.GetGauge("x_total", "x"), std::logic_error);
}

TEST(MetricsRegistryTest, CounterFuncsAreReadAtScrapeTime) {
  MetricsRegistry r;
  std::atomic<uint64_t> seen{3};
  r.SetCounterFunc("kpx_seen_total", "seen", {}, [&] { return static_cast<double>(seen.load()); });
  EXPECT_NE(r.Render().find("kpx_seen_total 3\n"), std::string::npos);
  seen = 5;
  EXPECT_NE(r.Render().find("kpx_seen_total 5\n"), std::string::npos);
}

TEST(MetricsRegistryTest, EscapesLabelValues) {
  MetricsRegistry r;
  r.GetCounter("e_total", "e", {{"v", "a\"b\\c\nd"}})->Inc();
  EXPECT_NE(r.Render().find("e_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace kpx
