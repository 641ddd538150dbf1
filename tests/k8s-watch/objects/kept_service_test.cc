#include "k8s-watch/objects/kept_service.h"

#include <gtest/gtest.h>

#include <functional>

#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::MakeService;

Service Web() {
  return MakeService("ns", "web", [](Service& s) {
    s.meta.uid = "u-1";
    s.meta.resource_version = "7";
    s.meta.labels["app"] = "web";
    s.meta.annotations["note"] = "x";
  });
}

TEST(KeptServiceTest, IdentityKeepsWhatNamesTheServiceAndNothingElse) {
  const KeptService kept(Web());
  const Service id = kept.identity();
  EXPECT_EQ(id.meta.Key(), "ns/web");
  EXPECT_EQ(id.meta.uid, "u-1");
  EXPECT_EQ(id.meta.resource_version, "7");
  EXPECT_TRUE(id.meta.labels.empty());
  EXPECT_TRUE(id.meta.annotations.empty());
  EXPECT_TRUE(id.ports.empty());
  EXPECT_TRUE(id.cluster_ips.empty());
  Service expected;
  expected.meta = id.meta;
  EXPECT_EQ(id, expected);  // every other field at its default
}

// The old Service an Update or Delete hands over names it exactly as it came, whatever the uid's
// form (a UUID is stored packed).
TEST(KeptServiceTest, IdentityIsTheMetadataItCameWith) {
  for (const char* uid : {"0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60", "u-1", ""}) {
    Service s = Web();
    s.meta.uid = uid;
    s.meta.resource_version = "123456789";
    const KeptService kept(s);
    EXPECT_EQ(kept.identity(), KeptService::IdentityOf(s));
    EXPECT_EQ(kept.identity().meta.uid, uid);
    EXPECT_EQ(kept.identity().meta.resource_version, "123456789");
    EXPECT_EQ(kept.Key(), "ns/web");
    EXPECT_TRUE(kept.Matches(s));
    EXPECT_EQ(KeptService(s), kept);
  }
}

// Every field a Service has is part of its content: a change to any one is seen.
TEST(KeptServiceTest, MatchesTheSameServiceAndNoChangedOne) {
  const KeptService kept(Web());
  EXPECT_TRUE(kept.Matches(Web()));
  auto changed = [&](const std::function<void(Service&)>& edit) {
    Service s = Web();
    edit(s);
    return !kept.Matches(s);
  };
  EXPECT_TRUE(changed([](Service& s) { s.meta.resource_version = "8"; }));
  EXPECT_TRUE(changed([](Service& s) { s.meta.uid = "u-2"; }));
  EXPECT_TRUE(changed([](Service& s) { s.meta.labels["app"] = "api"; }));
  EXPECT_TRUE(changed([](Service& s) { s.meta.annotations.clear(); }));
  EXPECT_TRUE(changed([](Service& s) { s.type = ServiceType::kNodePort; }));
  EXPECT_TRUE(changed([](Service& s) { s.cluster_ips = {Ip("10.96.0.99")}; }));
  EXPECT_TRUE(changed([](Service& s) { s.headless = true; }));
  EXPECT_TRUE(changed([](Service& s) { s.ports[0].port = 81; }));
  EXPECT_TRUE(changed([](Service& s) { s.ports[0].node_port = 30001; }));
  EXPECT_TRUE(changed([](Service& s) { s.ports[0].protocol = Protocol::kUDP; }));
  EXPECT_TRUE(changed([](Service& s) { s.ports[0].name = "web"; }));
  EXPECT_TRUE(changed([](Service& s) { s.external_ips = {Ip("192.0.2.1")}; }));
  EXPECT_TRUE(changed([](Service& s) { s.load_balancer_ingress_ips = {Ip("192.0.2.2")}; }));
  EXPECT_TRUE(changed(
      [](Service& s) { s.load_balancer_source_ranges = {*Cidr::Parse("203.0.113.0/24")}; }));
  EXPECT_TRUE(changed([](Service& s) { s.session_affinity_client_ip = true; }));
  EXPECT_TRUE(changed([](Service& s) { s.session_affinity_timeout_seconds = 60; }));
  EXPECT_TRUE(changed([](Service& s) { s.external_traffic_policy = TrafficPolicy::kLocal; }));
  EXPECT_TRUE(changed([](Service& s) { s.internal_traffic_policy = TrafficPolicy::kLocal; }));
  EXPECT_TRUE(changed([](Service& s) { s.health_check_node_port = 32000; }));
  EXPECT_TRUE(changed([](Service& s) { s.traffic_distribution = "PreferClose"; }));
}

TEST(KeptServiceTest, SourceRangesDifferingOnlyInPrefixLengthDiffer) {
  Service a = Web(), b = Web();
  a.load_balancer_source_ranges = {*Cidr::Parse("203.0.113.0/24")};
  b.load_balancer_source_ranges = {*Cidr::Parse("203.0.113.0/25")};
  EXPECT_NE(KeptService::DigestOf(a), KeptService::DigestOf(b));
}

TEST(KeptServiceTest, LabelsAndAnnotationsDoNotCollide) {
  // The same pair as a label or as an annotation is a different Service.
  Service a = Web(), b = Web();
  a.meta.labels["k"] = "v";
  b.meta.annotations["k"] = "v";
  EXPECT_NE(KeptService::DigestOf(a), KeptService::DigestOf(b));
}

}  // namespace
}  // namespace kpx
