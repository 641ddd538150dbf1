// UserspaceDataplane over a recording iptables runner and a fake relay engine: what is opened,
// updated and closed on each sync, and in which order relative to the portal rules.
#include "proxier/userspace/userspace_dataplane.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/proxier/userspace/fake_relay_engine.h"
#include "tests/proxier/userspace/recording_iptables_runner.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::FakeRelayEngine;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RecordingIptablesRunner;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: services 10.96.0.x, endpoints 10.244.2.x (another node).
class UserspaceDataplaneTest : public ::testing::Test {
 protected:
  UserspaceDataplaneTest() {
    UserspaceOptions options;
    options.families = {IpFamily::kIPv4};
    auto runner = std::make_unique<RecordingIptablesRunner>();
    auto engine = std::make_unique<FakeRelayEngine>();
    runner_ = runner.get();
    engine_ = engine.get();
    dataplane_ =
        std::make_unique<UserspaceDataplane>(options, std::move(runner), std::move(engine));
  }
  const std::string& Rules() { return runner_->last_text[0]; }

  RecordingIptablesRunner* runner_;
  FakeRelayEngine* engine_;
  std::unique_ptr<UserspaceDataplane> dataplane_;
  StateBuilderForTest builder_;
};

const ServicePortName kWeb{"demo", "web", "", Protocol::kTCP};

TEST_F(UserspaceDataplaneTest, OpensListenersAndRedirectsToThem) {
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  builder_.Add(Svc("demo", "dns", "", Protocol::kUDP, 53, "10.96.0.53"), {Ep("10.244.2.5", 53)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  ASSERT_EQ(engine_->open.size(), 2u);
  const uint16_t port = dataplane_->ListenPort({kWeb, FrontendRole::kInternal});
  ASSERT_NE(port, 0);
  EXPECT_THAT(Rules(), HasSubstr("-d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT "
                                 "--to-ports " +
                                 std::to_string(port)));
  EXPECT_THAT(Rules(), HasSubstr("-p udp -m udp --dport 53"));
  EXPECT_EQ(runner_->jumps[0].size(), 3u);
  EXPECT_EQ(dataplane_->counters().frontends, 2u);
}

// Beyond the engine's descriptor budget, service ports wait without a listener or a portal; the
// sync says why with the figures, counts it, and the next sync opens them once there is room.
TEST_F(UserspaceDataplaneTest, DescriptorBudgetLimitsOpensAndIsRetried) {
  builder_.Add(Svc("demo", "a", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  builder_.Add(Svc("demo", "b", "", Protocol::kTCP, 80, "10.96.0.11"), {Ep("10.244.2.2", 8080)});
  builder_.Add(Svc("demo", "c", "", Protocol::kTCP, 80, "10.96.0.12"), {Ep("10.244.2.2", 8080)});
  engine_->budget = DescriptorBudget{1, 1000, 4096, 749, 250};
  const Status st = dataplane_->Apply(builder_.Build(), true);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("out of file descriptors: 3 service ports need a listener "
                                      "each, 0 are open, 2 left without one; 749 descriptors are "
                                      "open of the open-file limit 1000 (hard limit 4096)"));
  EXPECT_EQ(engine_->open.size(), 1u);
  EXPECT_THAT(Rules(), HasSubstr("10.96.0.10/32"));
  EXPECT_THAT(Rules(), Not(HasSubstr("10.96.0.11/32")));
  EXPECT_EQ(dataplane_->counters().fd_shortages, 1u);
  EXPECT_EQ(dataplane_->counters().unopened, 2u);
  engine_->budget = DescriptorBudget{};
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(engine_->open.size(), 3u);
  EXPECT_THAT(Rules(), HasSubstr("10.96.0.12/32"));
  EXPECT_EQ(dataplane_->counters().fd_shortages, 1u);
  EXPECT_EQ(dataplane_->counters().unopened, 0u);
}

TEST_F(UserspaceDataplaneTest, UnchangedStateSkipsTheKernel) {
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  const int restores = runner_->restores;
  const int ensures = runner_->ensures;
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(runner_->restores, restores);
  EXPECT_EQ(runner_->ensures, ensures);
  // A full sync rewrites and re-ensures the jumps.
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  EXPECT_EQ(runner_->restores, restores + 1);
  EXPECT_GT(runner_->ensures, ensures);
}

TEST_F(UserspaceDataplaneTest, EndpointChangeUpdatesLiveFrontendWithoutReopening) {
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  auto frontend = engine_->open.begin()->second.first;
  const int restores = runner_->restores;
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"),
               {Ep("10.244.2.2", 8080), Ep("10.244.2.3", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(engine_->open.begin()->second.first, frontend);
  EXPECT_EQ(engine_->closes, 0);
  EXPECT_EQ(frontend->picker(IpFamily::kIPv4).size(), 2u);
  EXPECT_EQ(runner_->restores, restores);  // portals did not change
}

// The plan hands each spec's backends to the frontend's pickers and keeps no copy; later syncs,
// partial or full, still give every frontend its endpoints.
TEST_F(UserspaceDataplaneTest, PickersKeepTheirEndpointsAcrossPartialAndFullSyncs) {
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  builder_.Add(Svc("demo", "api", "", Protocol::kTCP, 80, "10.96.0.11"),
               {Ep("10.244.2.4", 8080), Ep("10.244.2.5", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  auto picker_sizes = [&] {
    std::map<std::string, size_t> out;
    for (const auto& [port, opened] : engine_->open) {
      out[opened.first->key().ToString()] = opened.first->picker(IpFamily::kIPv4).size();
    }
    return out;
  };
  const std::map<std::string, size_t> both{{"demo/api", 2u}, {"demo/web", 1u}};
  EXPECT_EQ(picker_sizes(), both);
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"),
               {Ep("10.244.2.2", 8080), Ep("10.244.2.3", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(picker_sizes(), (std::map<std::string, size_t>{{"demo/api", 2u}, {"demo/web", 2u}}));
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  EXPECT_EQ(picker_sizes(), (std::map<std::string, size_t>{{"demo/api", 2u}, {"demo/web", 2u}}));
}

// An incremental sync follows the change set: one changed port is planned, the others are not
// looked at, and an endpoint change renders no rules at all.
TEST_F(UserspaceDataplaneTest, IncrementalSyncPlansOnlyChangedPorts) {
  for (int i = 0; i < 20; ++i) {
    builder_.Add(Svc("demo", "svc" + std::to_string(i), "", Protocol::kTCP, 80,
                     "10.96.1." + std::to_string(i + 1)),
                 {Ep("10.244.2." + std::to_string(i + 1), 8080)});
  }
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  EXPECT_EQ(dataplane_->counters().ports_planned, 20u);
  const int restores = runner_->restores;
  const size_t opened = engine_->open.size();

  builder_.Add(Svc("demo", "svc7", "", Protocol::kTCP, 80, "10.96.1.8"),
               {Ep("10.244.2.8", 8080), Ep("10.244.3.8", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(dataplane_->counters().ports_planned, 21u);
  EXPECT_EQ(runner_->restores, restores) << "no portal changed";
  EXPECT_EQ(engine_->open.size(), opened);

  // A new service: planned alone, and its portal makes the rules render again.
  builder_.Add(Svc("demo", "new", "", Protocol::kTCP, 80, "10.96.1.100"), {Ep("10.244.2.9", 80)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(dataplane_->counters().ports_planned, 22u);
  EXPECT_EQ(runner_->restores, restores + 1);
  EXPECT_THAT(Rules(), HasSubstr("-d 10.96.1.100/32"));
  EXPECT_THAT(Rules(), HasSubstr("-d 10.96.1.8/32")) << "the other portals stay";
  EXPECT_EQ(dataplane_->counters().frontends, 21u);

  // Removal: planned alone, its portal goes, then its listener.
  const int closes = engine_->closes;
  ASSERT_TRUE(
      dataplane_
          ->Apply(builder_.Remove(ServicePortName{"demo", "new", "", Protocol::kTCP}).Build(),
                  false)
          .ok());
  EXPECT_EQ(dataplane_->counters().ports_planned, 23u);
  EXPECT_THAT(Rules(), Not(HasSubstr("-d 10.96.1.100/32")));
  EXPECT_EQ(engine_->closes, closes + 1);
  EXPECT_EQ(dataplane_->counters().frontends, 20u);
}

TEST_F(UserspaceDataplaneTest, RemovedServiceLosesRulesThenListener) {
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  builder_.Remove(kWeb);
  // While the rules cannot be rewritten, the listener they point at stays.
  runner_->fail_restores = 1;
  EXPECT_FALSE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(engine_->open.size(), 1u);
  EXPECT_THAT(Rules(), HasSubstr("10.96.0.10"));
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  EXPECT_TRUE(engine_->open.empty());
  EXPECT_THAT(Rules(), Not(HasSubstr("10.96.0.10")));
  EXPECT_EQ(dataplane_->counters().restore_failures, 1u);
}

TEST_F(UserspaceDataplaneTest, OpenFailureIsReportedAndRetried) {
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  engine_->fail_opens = 1;
  EXPECT_FALSE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_THAT(Rules(), Not(HasSubstr("10.96.0.10")));
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_THAT(Rules(), HasSubstr("10.96.0.10"));
  EXPECT_EQ(dataplane_->counters().open_failures, 1u);
}

TEST_F(UserspaceDataplaneTest, SctpIsSkippedAndCounted) {
  builder_.Add(Svc("demo", "sig", "", Protocol::kSCTP, 3868, "10.96.0.20"),
               {Ep("10.244.2.9", 3868)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  EXPECT_TRUE(engine_->open.empty());
  EXPECT_EQ(dataplane_->counters().sctp_skipped, 1u);
}

TEST_F(UserspaceDataplaneTest, CleanupRemovesJumpsChainsAndListeners) {
  builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, "10.96.0.10"), {Ep("10.244.2.2", 8080)});
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), true).ok());
  ASSERT_TRUE(dataplane_->Cleanup().ok());
  EXPECT_TRUE(runner_->jumps[0].empty());
  EXPECT_THAT(runner_->deleted_chains,
              ::testing::ElementsAre("nat/KPX-PORTALS-CONTAINER", "nat/KPX-PORTALS-HOST",
                                     "filter/KPX-PORTALS-FIREWALL"));
  EXPECT_TRUE(engine_->open.empty());
  // A later sync puts everything back.
  ASSERT_TRUE(dataplane_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(runner_->jumps[0].size(), 3u);
  EXPECT_THAT(Rules(), HasSubstr("10.96.0.10"));
}

}  // namespace
}  // namespace kpx
