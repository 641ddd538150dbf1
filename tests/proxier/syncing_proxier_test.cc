#include "proxier/syncing_proxier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "base/rfc3339.h"
#include "tests/proxier/runner/fake_clock.h"
#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::MakeEndpoint;
using testing::MakeService;
using testing::MakeSlice;

// Records every Apply; fails on demand.
class RecordingDataplane final : public Dataplane {
 public:
  struct Call {
    bool full;
    size_t services;
    std::set<ServicePortName> changed;
  };
  std::string_view Name() const override { return "recording"; }
  Status Apply(const DesiredState& state, bool full) override {
    calls.push_back({full, state.services.size(), state.changed});
    cpu += apply_cpu;
    EXPECT_TRUE(state.synced);
    return fail_next ? (fail_next = false, Status::Error("injected")) : Status::Ok();
  }
  Status Cleanup() override { return Status::Ok(); }
  std::chrono::milliseconds HousekeepingInterval() const override { return housekeeping; }
  Status Housekeep() override {
    ++housekeeps;
    return Status::Ok();
  }

  std::vector<Call> calls;
  bool fail_next = false;
  // A thread CPU clock for the proxier that only this dataplane's Apply advances, by
  // `apply_cpu` per call: the proxier must count the Apply and nothing else.
  std::chrono::nanoseconds cpu{0};
  std::chrono::nanoseconds apply_cpu{0};
  std::chrono::milliseconds housekeeping{0};
  int housekeeps = 0;
};

class SyncingProxierTest : public ::testing::Test {
 protected:
  // Started an hour ago, so trigger times from seconds ago count.
  SyncingProxierTest()
      : proxier_({"node-a", {}, {}, std::chrono::system_clock::now() - std::chrono::hours(1), {}},
                 dataplane_, clock_, metrics_) {}

  void SyncAll() {
    proxier_.OnServiceSynced();
    proxier_.OnEndpointSliceSynced();
    proxier_.OnNodeSynced();
  }

  testing::FakeClock clock_;
  MetricsRegistry metrics_;
  RecordingDataplane dataplane_;
  SyncingProxier proxier_;
};

TEST_F(SyncingProxierTest, NothingReachesTheDataplaneBeforeEverySourceSynced) {
  proxier_.OnServiceAdd(MakeService("ns", "web"));
  proxier_.OnServiceSynced();
  proxier_.OnEndpointSliceSynced();
  EXPECT_TRUE(proxier_.Sync());
  EXPECT_TRUE(dataplane_.calls.empty());
  EXPECT_EQ(proxier_.LastApplied(), nullptr);
  proxier_.OnNodeSynced();
  EXPECT_TRUE(proxier_.Sync());
  ASSERT_EQ(dataplane_.calls.size(), 1u);
  EXPECT_TRUE(dataplane_.calls[0].full);
  EXPECT_EQ(dataplane_.calls[0].services, 1u);
}

TEST_F(SyncingProxierTest, LaterSyncsArePartialAndFailureForcesAFullOne) {
  SyncAll();
  proxier_.OnServiceAdd(MakeService("ns", "web"));
  ASSERT_TRUE(proxier_.Sync());

  proxier_.OnEndpointSliceAdd(MakeSlice("ns", "web", "w1", {MakeEndpoint("10.0.0.1", "n")}));
  dataplane_.fail_next = true;
  EXPECT_FALSE(proxier_.Sync());
  EXPECT_TRUE(proxier_.OldestPendingChange().has_value()) << "failed changes stay pending";
  EXPECT_TRUE(proxier_.Sync());
  ASSERT_EQ(dataplane_.calls.size(), 3u);
  EXPECT_FALSE(dataplane_.calls[1].full);
  EXPECT_EQ(dataplane_.calls[1].changed.size(), 1u);
  EXPECT_TRUE(dataplane_.calls[2].full);
  EXPECT_FALSE(proxier_.OldestPendingChange().has_value());

  const std::string text = metrics_.Render();
  EXPECT_NE(text.find("kpx_sync_proxy_rules_failures_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("kubeproxy_sync_proxy_rules_endpoint_changes_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("kubeproxy_sync_proxy_rules_service_changes_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("kubeproxy_sync_proxy_rules_duration_seconds_count 3\n"), std::string::npos);
  // No slice carried a last-change-trigger-time: nothing to measure the latency from.
  EXPECT_NE(text.find("kubeproxy_network_programming_duration_seconds_count 0\n"),
            std::string::npos);
}

EndpointSlice StampedSlice(const std::string& ip, const std::string& stamp) {
  EndpointSlice slice = MakeSlice("ns", "web", "w1", {MakeEndpoint(ip, "n")});
  slice.meta.annotations["endpoints.kubernetes.io/last-change-trigger-time"] = stamp;
  return slice;
}

bool HasLine(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

constexpr const char* kLatency = "kubeproxy_network_programming_duration_seconds";

TEST_F(SyncingProxierTest, NetworkProgrammingLatencyRunsFromTheSlicesTriggerTime) {
  SyncAll();
  proxier_.OnServiceAdd(MakeService("ns", "web"));
  ASSERT_TRUE(proxier_.Sync());
  EXPECT_TRUE(HasLine(metrics_.Render(), std::string(kLatency) + "_count 0"))
      << "a service change carries no trigger time";

  // Stamped two seconds before kpx saw it (the controller and the watch took that long): the
  // latency covers them, which the time the change reached kpx would not.
  const auto stamped = std::chrono::system_clock::now() - std::chrono::seconds(2);
  const EndpointSlice v1 = StampedSlice("10.0.0.1", FormatRfc3339(stamped));
  proxier_.OnEndpointSliceAdd(v1);
  ASSERT_TRUE(proxier_.Sync());
  std::string text = metrics_.Render();
  EXPECT_TRUE(HasLine(text, std::string(kLatency) + "_count 1")) << text;
  EXPECT_TRUE(HasLine(text, std::string(kLatency) + "_bucket{le=\"1\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, std::string(kLatency) + "_bucket{le=\"20\"} 1")) << text;

  // The same object again (a relist) is no new change.
  proxier_.OnEndpointSliceUpdate(v1, v1);
  ASSERT_TRUE(proxier_.Sync());
  EXPECT_TRUE(HasLine(metrics_.Render(), std::string(kLatency) + "_count 1"));

  // A changed slice whose sync fails: its stamp waits for the sync that applies it.
  const EndpointSlice v2 = StampedSlice(
      "10.0.0.2", FormatRfc3339(std::chrono::system_clock::now() - std::chrono::seconds(5)));
  proxier_.OnEndpointSliceUpdate(v1, v2);
  dataplane_.fail_next = true;
  EXPECT_FALSE(proxier_.Sync());
  EXPECT_TRUE(HasLine(metrics_.Render(), std::string(kLatency) + "_count 1"));
  ASSERT_TRUE(proxier_.Sync());
  text = metrics_.Render();
  EXPECT_TRUE(HasLine(text, std::string(kLatency) + "_count 2")) << text;
  EXPECT_TRUE(HasLine(text, std::string(kLatency) + "_bucket{le=\"4\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, std::string(kLatency) + "_bucket{le=\"20\"} 2")) << text;
  // kube-proxy's bucket layout: 0.25, 0.5, each second to 59, each 5 s to 115, each 30 s to 300.
  for (const char* le :
       {"0.25", "0.5", "1", "2", "17", "59", "60", "65", "115", "120", "150", "300"}) {
    EXPECT_NE(text.find(std::string(kLatency) + "_bucket{le=\"" + le + "\"}"), std::string::npos)
        << le;
  }
  EXPECT_EQ(text.find(std::string(kLatency) + "_bucket{le=\"61\"}"), std::string::npos);
  EXPECT_EQ(text.find(std::string(kLatency) + "_bucket{le=\"125\"}"), std::string::npos);
}

TEST_F(SyncingProxierTest, TriggerTimesBeforeStartDeletedOrMalformedAreLeftOut) {
  SyncAll();
  proxier_.OnServiceAdd(MakeService("ns", "web"));
  // Changed before kpx started: the initial listing, not a change kpx programmed late.
  proxier_.OnEndpointSliceAdd(StampedSlice("10.0.0.1", "2000-01-01T00:00:00Z"));
  ASSERT_TRUE(proxier_.Sync());
  EXPECT_TRUE(HasLine(metrics_.Render(), std::string(kLatency) + "_count 0"));

  // A deleted slice's annotation says when it was last updated, not when it went away.
  const EndpointSlice fresh =
      StampedSlice("10.0.0.2", FormatRfc3339(std::chrono::system_clock::now()));
  proxier_.OnEndpointSliceUpdate(StampedSlice("10.0.0.1", "2000-01-01T00:00:00Z"), fresh);
  proxier_.OnEndpointSliceDelete(fresh);
  ASSERT_TRUE(proxier_.Sync());
  EXPECT_TRUE(HasLine(metrics_.Render(), std::string(kLatency) + "_count 0"));

  // Bad input is counted and logged; the change itself is still applied.
  const size_t calls = dataplane_.calls.size();
  proxier_.OnEndpointSliceAdd(StampedSlice("10.0.0.3", "yesterday"));
  ASSERT_TRUE(proxier_.Sync());
  const std::string text = metrics_.Render();
  EXPECT_EQ(dataplane_.calls.size(), calls + 1);
  EXPECT_TRUE(HasLine(text, std::string(kLatency) + "_count 0")) << text;
  EXPECT_TRUE(HasLine(text, "kpx_endpointslice_invalid_trigger_time_total 1")) << text;
}

TEST_F(SyncingProxierTest, RecordsLastSuccessForHealthChecks) {
  SyncAll();
  EXPECT_FALSE(proxier_.LastSuccessfulSync().has_value());
  ASSERT_TRUE(proxier_.Sync());
  EXPECT_EQ(proxier_.LastSuccessfulSync(), clock_.Now());
  ASSERT_NE(proxier_.LastApplied(), nullptr);
  EXPECT_EQ(proxier_.LastApplied()->node.name, "node-a");
}

TEST(SyncingProxierAppliedTest, TheCallbackSeesTheChangeSetTheKeptSnapshotDropsIt) {
  testing::FakeClock clock;
  MetricsRegistry metrics;
  RecordingDataplane dataplane;
  std::set<ServicePortName> seen;
  SyncingProxier::Options o{"node-a", {}, {}, {}, {}};
  o.on_applied = [&](const DesiredState& state) { seen = state.changed; };
  SyncingProxier proxier(o, dataplane, clock, metrics);
  proxier.OnServiceAdd(MakeService("ns", "web"));
  proxier.OnServiceSynced();
  proxier.OnEndpointSliceSynced();
  proxier.OnNodeSynced();
  ASSERT_TRUE(proxier.Sync());
  EXPECT_EQ(seen.size(), 1u);
  ASSERT_NE(proxier.LastApplied(), nullptr);
  EXPECT_EQ(proxier.LastApplied()->services.size(), 1u);
  EXPECT_TRUE(proxier.LastApplied()->changed.empty());
}

TEST(SyncingProxierCpuTest, EachSyncsThreadCpuIsObservedByKindOfSync) {
  testing::FakeClock clock;
  MetricsRegistry metrics;
  RecordingDataplane dataplane;
  SyncingProxier::Options o{"node-a", {}, {}, {}, {}};
  o.thread_cpu = [&] { return dataplane.cpu; };
  SyncingProxier proxier(o, dataplane, clock, metrics);
  proxier.OnServiceSynced();
  proxier.OnEndpointSliceSynced();
  proxier.OnNodeSynced();
  dataplane.apply_cpu = std::chrono::milliseconds(30);
  ASSERT_TRUE(proxier.Sync());  // the first sync is a full one
  proxier.OnServiceAdd(MakeService("ns", "web"));
  dataplane.apply_cpu = std::chrono::microseconds(200);
  ASSERT_TRUE(proxier.Sync());
  proxier.OnServiceAdd(MakeService("ns", "db"));
  dataplane.apply_cpu = std::chrono::microseconds(300);
  ASSERT_TRUE(proxier.Sync());
  ASSERT_EQ(dataplane.calls.size(), 3u);
  ASSERT_FALSE(dataplane.calls[2].full);

  const std::string text = metrics.Render();
  EXPECT_TRUE(HasLine(text, "kpx_sync_proxy_rules_cpu_seconds_count{sync=\"full\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "kpx_sync_proxy_rules_cpu_seconds_sum{sync=\"full\"} 0.03")) << text;
  EXPECT_TRUE(HasLine(text, "kpx_sync_proxy_rules_cpu_seconds_count{sync=\"partial\"} 2"));
  EXPECT_TRUE(HasLine(text, "kpx_sync_proxy_rules_cpu_seconds_sum{sync=\"partial\"} 5e-04"));
  // Partial syncs of 200 and 300 us: only the first within the 200 us bucket.
  EXPECT_TRUE(
      HasLine(text, "kpx_sync_proxy_rules_cpu_seconds_bucket{sync=\"partial\",le=\"2e-04\"} 1"))
      << text;
}

TEST(SyncingProxierHousekeepingTest, TheDataplaneIsLookedAfterBetweenSyncsOnlyOnceProgrammed) {
  testing::FakeClock clock;
  MetricsRegistry metrics;
  RecordingDataplane dataplane;
  dataplane.housekeeping = std::chrono::seconds(10);
  // Periodic syncs far apart, so only housekeeping happens in between.
  SyncingProxier::Options o{"node-a", {}, {}, {}, {}};
  o.runner.max_interval = std::chrono::hours(1);
  SyncingProxier proxier(o, dataplane, clock, metrics);
  Clock::TimePoint wake;
  ASSERT_TRUE(proxier.RunIfDue(&wake));  // the first run: sources not listed yet, nothing applied
  clock.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(proxier.RunIfDue(&wake));
  EXPECT_EQ(dataplane.housekeeps, 0) << "nothing programmed yet, nothing to look after";
  proxier.OnServiceSynced();
  proxier.OnEndpointSliceSynced();
  proxier.OnNodeSynced();
  clock.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(proxier.RunIfDue(&wake));
  ASSERT_EQ(dataplane.calls.size(), 1u);
  EXPECT_EQ(wake, clock.Now() + std::chrono::seconds(10));
  clock.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(proxier.RunIfDue(&wake));
  clock.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(proxier.RunIfDue(&wake));
  EXPECT_EQ(dataplane.housekeeps, 2);
  EXPECT_EQ(dataplane.calls.size(), 1u) << "housekeeping is not a sync";
}

}  // namespace
}  // namespace kpx
