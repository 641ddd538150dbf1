#include "proxier/core/state_builder.h"

#include <gtest/gtest.h>

#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::MakeEndpoint;
using testing::MakeNode;
using testing::MakeService;
using testing::MakeSlice;

const ServicePortName kWeb{"ns", "web", "http", Protocol::kTCP};
const ServicePortName kApi{"ns", "api", "http", Protocol::kTCP};

TEST(StateBuilderTest, FirstSnapshotHoldsEverythingAsChanged) {
  StateBuilder b("node-a");
  b.UpdateService(MakeService("ns", "web"));
  b.UpdateService(MakeService("ns", "api"));
  b.AddEndpointSlice(MakeSlice("ns", "web", "web-1", {MakeEndpoint("10.0.0.1", "node-a")}));
  const auto s = b.Snapshot();
  EXPECT_EQ(s.services.size(), 2u);
  EXPECT_EQ(s.changed, (std::set<ServicePortName>{kApi, kWeb}));
  const auto* web = s.Find(kWeb);
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->For(IpFamily::kIPv4).cluster().size(), 1u);
  EXPECT_TRUE(web->For(IpFamily::kIPv4).cluster()[0]->is_local);
  EXPECT_FALSE(s.Find(kApi)->For(IpFamily::kIPv4).has_any_endpoints());
  EXPECT_EQ(s.generation, 1u);
}

TEST(StateBuilderTest, OnlyRealChangesAreReportedAndUnchangedEntriesAreShared) {
  StateBuilder b("node-a");
  b.UpdateService(MakeService("ns", "web"));
  b.UpdateService(MakeService("ns", "api"));
  const auto first = b.Snapshot();

  // A no-op update (same content) and a real endpoint change for api.
  b.UpdateService(MakeService("ns", "web"));
  b.AddEndpointSlice(MakeSlice("ns", "api", "api-1", {MakeEndpoint("10.0.0.5", "node-b")}));
  const auto second = b.Snapshot();
  EXPECT_EQ(second.changed, (std::set<ServicePortName>{kApi}));
  EXPECT_EQ(first.services.at(kWeb).get(), second.services.at(kWeb).get());

  EXPECT_TRUE(b.Snapshot().changed.empty());
}

TEST(StateBuilderTest, BurstFoldsAndDeletionsAreReported) {
  StateBuilder b("node-a");
  b.UpdateService(MakeService("ns", "web"));
  (void)b.Snapshot();

  // Added and removed within one burst: no trace.
  b.UpdateService(MakeService("ns", "tmp"));
  b.DeleteService(MakeService("ns", "tmp"));
  // A port renamed: the old name goes, the new one comes.
  b.UpdateService(MakeService("ns", "web", [](Service& s) { s.ports[0].name = "web"; }));
  const auto s = b.Snapshot();
  const ServicePortName renamed{"ns", "web", "web", Protocol::kTCP};
  EXPECT_EQ(s.changed, (std::set<ServicePortName>{kWeb, renamed}));
  EXPECT_EQ(s.services.size(), 1u);
  EXPECT_NE(s.Find(renamed), nullptr);

  b.DeleteService(MakeService("ns", "web"));
  const auto gone = b.Snapshot();
  EXPECT_TRUE(gone.services.empty());
  EXPECT_EQ(gone.changed, (std::set<ServicePortName>{renamed}));
}

TEST(StateBuilderTest, ServiceTurningHeadlessLosesItsPorts) {
  StateBuilder b("node-a");
  b.UpdateService(MakeService("ns", "web"));
  (void)b.Snapshot();
  b.UpdateService(MakeService("ns", "web", [](Service& s) {
    s.headless = true;
    s.cluster_ips.clear();
  }));
  const auto s = b.Snapshot();
  EXPECT_TRUE(s.services.empty());
  EXPECT_EQ(s.changed.size(), 1u);
}

TEST(StateBuilderTest, NodeZoneChangeReselectsTopologyAwareEndpoints) {
  StateBuilder b("node-a");
  b.UpdateService(MakeService("ns", "web"));
  b.AddEndpointSlice(
      MakeSlice("ns", "web", "web-1",
                {MakeEndpoint("10.0.0.1", "n1", [](Endpoint& e) { e.hint_zones = {"z1"}; }),
                 MakeEndpoint("10.0.0.2", "n2", [](Endpoint& e) { e.hint_zones = {"z2"}; })}));
  EXPECT_EQ(b.Snapshot().Find(kWeb)->For(IpFamily::kIPv4).cluster().size(), 2u);

  b.UpdateNode(MakeNode("node-a", [](Node& n) {
    n.meta.labels["topology.kubernetes.io/zone"] = "z2";
    n.internal_ips = {Ip("192.168.0.2")};
  }));
  const auto s = b.Snapshot();
  EXPECT_TRUE(s.node_changed);
  EXPECT_EQ(s.node.zone, "z2");
  ASSERT_EQ(s.node.addresses.size(), 1u);
  const auto& cluster = s.Find(kWeb)->For(IpFamily::kIPv4).cluster();
  ASSERT_EQ(cluster.size(), 1u);
  EXPECT_EQ(cluster[0]->ip.ToString(), "10.0.0.2");
  EXPECT_EQ(s.changed, (std::set<ServicePortName>{kWeb}));
}

TEST(StateBuilderTest, SliceMovingToAnotherServiceLeavesNothingBehind) {
  StateBuilder b("node-a");
  b.UpdateService(MakeService("ns", "web"));
  b.UpdateService(MakeService("ns", "api"));
  const auto slice = MakeSlice("ns", "web", "s1", {MakeEndpoint("10.0.0.1", "n1")});
  b.AddEndpointSlice(slice);
  (void)b.Snapshot();
  auto moved = slice;
  moved.service_name = "api";
  b.UpdateEndpointSlice(slice, moved);
  const auto s = b.Snapshot();
  EXPECT_EQ(s.changed, (std::set<ServicePortName>{kApi, kWeb}));
  EXPECT_TRUE(s.Find(kWeb)->For(IpFamily::kIPv4).all().empty());
  EXPECT_EQ(s.Find(kApi)->For(IpFamily::kIPv4).all().size(), 1u);
}

// A slice-only change rebuilds the Service's ports from the snapshot's own copy of them (the
// builder keeps no other): every port of that Service, and nothing of its neighbours in sort
// order, whose names extend it ("web-2", namespace "ns-2") or precede it.
TEST(StateBuilderTest, SliceChangeRebuildsEveryPortOfItsServiceAndNoOther) {
  StateBuilder b("node-a");
  auto two_ports = [](Service& s) {
    s.ports = {{"", Protocol::kUDP, 53, 0}, {"http", Protocol::kTCP, 80, 0}};
  };
  b.UpdateService(MakeService("ns", "web", two_ports));
  b.UpdateService(MakeService("ns", "web-2"));
  b.UpdateService(MakeService("ns-2", "web"));
  b.UpdateService(MakeService("ns", "wea"));
  const auto first = b.Snapshot();
  ASSERT_EQ(first.services.size(), 5u);

  b.AddEndpointSlice(
      MakeSlice("ns", "web", "web-1", {MakeEndpoint("10.0.0.1", "n1")}, [](EndpointSlice& s) {
        s.ports = {{"", Protocol::kUDP, 5353}, {"http", Protocol::kTCP, 8080}};
      }));
  const auto s = b.Snapshot();
  const ServicePortName dns{"ns", "web", "", Protocol::kUDP};
  const ServicePortName http{"ns", "web", "http", Protocol::kTCP};
  EXPECT_EQ(s.changed, (std::set<ServicePortName>{dns, http}));
  ASSERT_EQ(s.services.size(), 5u);
  ASSERT_EQ(s.Find(dns)->For(IpFamily::kIPv4).all().size(), 1u);
  EXPECT_EQ(s.Find(dns)->For(IpFamily::kIPv4).all()[0]->port, 5353);
  EXPECT_EQ(s.Find(http)->For(IpFamily::kIPv4).all()[0]->port, 8080);
  EXPECT_EQ(s.Find(dns)->info.port, 53);  // the Service's port survived the rebuild
  for (const auto& [name, state] : s.services) {
    if (name.namespace_ == "ns" && name.name == "web") continue;
    EXPECT_EQ(state.get(), first.services.at(name).get()) << name.ToString();
  }

  // Deleting the slice empties both ports again, still from the snapshot's copy.
  b.DeleteEndpointSlice(MakeSlice("ns", "web", "web-1", {}));
  const auto emptied = b.Snapshot();
  EXPECT_EQ(emptied.changed, (std::set<ServicePortName>{dns, http}));
  EXPECT_TRUE(emptied.Find(http)->For(IpFamily::kIPv4).all().empty());

  // The Service itself loses a port: that one goes, its neighbours stay.
  b.UpdateService(MakeService("ns", "web"));
  const auto one_port = b.Snapshot();
  EXPECT_EQ(one_port.changed, (std::set<ServicePortName>{dns}));
  EXPECT_EQ(one_port.services.size(), 4u);

  // A slice for a Service that does not exist (yet) programs nothing.
  b.AddEndpointSlice(MakeSlice("ns", "later", "later-1", {MakeEndpoint("10.0.0.9", "n1")}));
  EXPECT_TRUE(b.Snapshot().changed.empty());
  b.UpdateService(MakeService("ns", "later"));
  const auto later = b.Snapshot();
  ASSERT_EQ(later.changed.size(), 1u);
  EXPECT_EQ(later.Find(*later.changed.begin())->For(IpFamily::kIPv4).all().size(), 1u);
}

}  // namespace
}  // namespace kpx
