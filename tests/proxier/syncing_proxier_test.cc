#include "proxier/syncing_proxier.h"

#include <gtest/gtest.h>

#include <vector>

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
  std::chrono::milliseconds housekeeping{0};
  int housekeeps = 0;
};

class SyncingProxierTest : public ::testing::Test {
 protected:
  SyncingProxierTest() : proxier_({"node-a", {}, {}}, dataplane_, clock_, metrics_) {}

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
  EXPECT_NE(text.find("kubeproxy_network_programming_duration_seconds_count 2\n"),
            std::string::npos);
}

TEST_F(SyncingProxierTest, RecordsLastSuccessForHealthChecks) {
  SyncAll();
  EXPECT_FALSE(proxier_.LastSuccessfulSync().has_value());
  ASSERT_TRUE(proxier_.Sync());
  EXPECT_EQ(proxier_.LastSuccessfulSync(), clock_.Now());
  ASSERT_NE(proxier_.LastApplied(), nullptr);
  EXPECT_EQ(proxier_.LastApplied()->node.name, "node-a");
}

TEST(SyncingProxierHousekeepingTest, TheDataplaneIsLookedAfterBetweenSyncsOnlyOnceProgrammed) {
  testing::FakeClock clock;
  MetricsRegistry metrics;
  RecordingDataplane dataplane;
  dataplane.housekeeping = std::chrono::seconds(10);
  // Periodic syncs far apart, so only housekeeping happens in between.
  SyncingProxier::Options o{"node-a", {}, {}};
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
