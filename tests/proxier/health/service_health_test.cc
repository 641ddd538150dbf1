#include "proxier/health/service_health.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "proxier/core/state_builder.h"
#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::MakeEndpoint;
using testing::MakeService;
using testing::MakeSlice;

Service LocalLb(const std::string& name, int hc_port) {
  return MakeService("ns", name, [&](Service& s) {
    s.type = ServiceType::kLoadBalancer;
    s.external_traffic_policy = TrafficPolicy::kLocal;
    s.health_check_node_port = hc_port;
    s.ports = {{"http", Protocol::kTCP, 80, 30080}, {"https", Protocol::kTCP, 443, 30443}};
  });
}

EndpointSlice Slice(const std::string& svc, std::vector<Endpoint> eps) {
  return MakeSlice("ns", svc, svc + "-1", std::move(eps), [](EndpointSlice& s) {
    s.ports = {{"http", Protocol::kTCP, 8080}, {"https", Protocol::kTCP, 8443}};
  });
}

// Records which ports are open; the responder is kept to check what a listener would answer.
struct FakeListeners {
  struct Listener : HealthCheckListener {
    Listener(FakeListeners* o, int32_t p) : owner(o), port(p) { owner->open.insert(port); }
    ~Listener() override { owner->open.erase(port); }
    FakeListeners* owner;
    int32_t port;
  };
  HealthCheckListenerFactory Factory() {
    return [this](int32_t port,
                  HealthCheckResponder r) -> Result<std::unique_ptr<HealthCheckListener>> {
      if (busy.contains(port)) return Status::Error("address in use");
      responders[port] = std::move(r);
      return std::unique_ptr<HealthCheckListener>(std::make_unique<Listener>(this, port));
    };
  }
  std::set<int32_t> open;
  std::set<int32_t> busy;
  std::map<int32_t, HealthCheckResponder> responders;
};

TEST(ServiceHealthTest, PlansOnlyLocalLoadBalancersAndCountsEachLocalAddressOnce) {
  StateBuilder b("node-a");
  b.UpdateService(LocalLb("lb", 31000));
  b.UpdateService(MakeService("ns", "cluster-lb", [](Service& s) {
    s.type = ServiceType::kLoadBalancer;
    s.health_check_node_port = 31001;  // ignored: external policy is Cluster
    s.ports[0].node_port = 30001;
  }));
  b.AddEndpointSlice(
      Slice("lb", {MakeEndpoint("10.0.0.1", "node-a"), MakeEndpoint("10.0.0.2", "node-a"),
                   MakeEndpoint("10.0.0.3", "node-b"),
                   MakeEndpoint("10.0.0.4", "node-a", [](Endpoint& e) { e.ready = false; })}));
  const auto plan = ServiceHealth::Plan(b.Snapshot());
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan.at(31000), (ServiceHealthEntry{"ns", "lb", 2}));
}

TEST(ServiceHealthTest, OpensClosesAndRetriesListeners) {
  FakeListeners fake;
  ServiceHealth health(fake.Factory());
  StateBuilder b("node-a");
  b.UpdateService(LocalLb("lb", 31000));
  b.UpdateService(LocalLb("other", 31002));
  fake.busy.insert(31002);
  health.Update(b.Snapshot());
  EXPECT_EQ(fake.open, (std::set<int32_t>{31000}));
  EXPECT_EQ(fake.responders.at(31000)().local_endpoints, 0);

  b.AddEndpointSlice(Slice("lb", {MakeEndpoint("10.0.0.1", "node-a")}));
  fake.busy.clear();
  health.Update(b.Snapshot());
  EXPECT_EQ(fake.open, (std::set<int32_t>{31000, 31002}));
  EXPECT_EQ(fake.responders.at(31000)().local_endpoints, 1) << "count updated in place";

  b.DeleteService(LocalLb("lb", 31000));
  health.Update(b.Snapshot());
  EXPECT_EQ(fake.open, (std::set<int32_t>{31002}));
  EXPECT_FALSE(health.Lookup(31000).has_value());
}

// Updates from change sets give exactly what Plan gives for the whole state, over random
// sequences of Service and slice changes, with a skipped snapshot now and then (a failed sync:
// the next state is applied whole), and a busy port retried until it opens.
TEST(ServiceHealthTest, IncrementalUpdatesMatchThePlanOfTheWholeState) {
  FakeListeners fake;
  ServiceHealth health(fake.Factory());
  StateBuilder b("node-a");
  std::mt19937 rng(11);
  const int kServices = 12;
  for (int step = 0; step < 400; ++step) {
    const int i = static_cast<int>(rng() % kServices);
    const std::string name = "s" + std::to_string(i);
    switch (rng() % 5) {
      case 0:
        b.DeleteService(LocalLb(name, 31000 + i));
        break;
      case 1:  // no longer Local: its health-check port goes
        b.UpdateService(MakeService("ns", name, [&](Service& s) {
          s.type = ServiceType::kLoadBalancer;
          s.health_check_node_port = 31000 + i;
          s.ports = {{"http", Protocol::kTCP, 80, 30080 + i}};
        }));
        break;
      case 2:
        b.UpdateService(LocalLb(name, 31000 + i));
        break;
      default: {
        std::vector<Endpoint> eps;
        for (int e = 0; e < static_cast<int>(rng() % 4); ++e) {
          eps.push_back(MakeEndpoint("10.0." + std::to_string(i) + "." + std::to_string(e + 1),
                                     rng() % 2 ? "node-a" : "node-b"));
        }
        b.AddEndpointSlice(Slice(name, eps));
      }
    }
    fake.busy.clear();
    if (rng() % 7 == 0) fake.busy.insert(31000 + static_cast<int>(rng() % kServices));
    const DesiredState state = b.Snapshot();
    if (rng() % 9 == 0) continue;  // this one is never applied
    health.Update(state);
    const auto plan = ServiceHealth::Plan(state);
    std::set<int32_t> want_open;
    for (const auto& [port, entry] : plan) {
      ASSERT_EQ(health.Lookup(port), entry) << "step " << step << " port " << port;
      if (!fake.busy.contains(port)) want_open.insert(port);
    }
    for (int p = 31000; p < 31000 + kServices; ++p) {
      if (!plan.contains(p)) {
        ASSERT_FALSE(health.Lookup(p).has_value()) << "step " << step;
      }
    }
    for (int32_t port : want_open) ASSERT_TRUE(fake.open.contains(port)) << "step " << step;
    ASSERT_LE(fake.open.size(), plan.size());
  }
}

}  // namespace
}  // namespace kpx
