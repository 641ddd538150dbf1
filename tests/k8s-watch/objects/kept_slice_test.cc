#include "k8s-watch/objects/kept_slice.h"

#include <gtest/gtest.h>

#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::MakeEndpoint;
using testing::MakeSlice;

EndpointSlice Web() {
  return MakeSlice("ns", "web", "web-1",
                   {MakeEndpoint("10.0.0.1", "n1"), MakeEndpoint("10.0.0.2", "n2")},
                   [](EndpointSlice& s) {
                     s.meta.uid = "u-1";
                     s.meta.resource_version = "7";
                     s.meta.labels["endpointslice.kubernetes.io/managed-by"] = "controller";
                     s.meta.annotations["endpoints.kubernetes.io/last-change-trigger-time"] =
                         "2026-12-03T10:00:00Z";
                   });
}

TEST(KeptSliceTest, IdentityKeepsWhatNamesTheSliceAndNothingElse) {
  const KeptSlice kept(Web());
  const EndpointSlice id = kept.identity();
  EXPECT_EQ(id.meta.Key(), "ns/web-1");
  EXPECT_EQ(id.meta.uid, "u-1");
  EXPECT_EQ(id.meta.resource_version, "7");
  EXPECT_EQ(id.service_name, "web");
  EXPECT_EQ(id.address_type, IpFamily::kIPv4);
  EXPECT_TRUE(id.endpoints.empty());
  EXPECT_TRUE(id.ports.empty());
  EXPECT_TRUE(id.meta.labels.empty());
  EXPECT_TRUE(id.meta.annotations.empty());
}

TEST(KeptSliceTest, IdentityIsTheMetadataItCameWith) {
  EndpointSlice s = Web();
  s.meta.uid = "0f8e6c1a-93b2-4d7e-a5c4-1b2c3d4e5f60";
  s.address_type = IpFamily::kIPv6;
  const KeptSlice kept(s);
  EXPECT_EQ(kept.identity(), KeptSlice::IdentityOf(s));
  EXPECT_EQ(kept.identity().meta.uid, s.meta.uid);
  EXPECT_EQ(kept.identity().service_name, "web");
  EXPECT_EQ(kept.identity().address_type, IpFamily::kIPv6);
  EXPECT_EQ(kept.Key(), "ns/web-1");
  EXPECT_TRUE(kept.Matches(s));
  s.address_type = IpFamily::kIPv4;
  EXPECT_FALSE(kept.Matches(s));
}

TEST(KeptSliceTest, MatchesTheSameSliceAndNoChangedOne) {
  const KeptSlice kept(Web());
  EXPECT_TRUE(kept.Matches(Web()));

  auto changed = [&](const std::function<void(EndpointSlice&)>& edit) {
    EndpointSlice s = Web();
    edit(s);
    return !kept.Matches(s);
  };
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.endpoints[1].ready = false; }));
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.endpoints[0].addresses = {Ip("10.0.0.9")}; }));
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.endpoints.pop_back(); }));
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.ports[0].port = 9090; }));
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.meta.resource_version = "8"; }));
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.meta.uid = "u-2"; }));
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.service_name = "api"; }));
  EXPECT_TRUE(changed([](EndpointSlice& s) { s.endpoints[0].zone = "z9"; }));
  // What the core never reads from a kept slice is no change.
  EXPECT_FALSE(changed([](EndpointSlice& s) { s.meta.labels["team"] = "a"; }));
  EXPECT_FALSE(changed([](EndpointSlice& s) { s.meta.annotations.clear(); }));
}

TEST(KeptSliceTest, DigestSeparatesFieldBoundaries) {
  // Node name and zone are digested one after the other: the same characters split differently
  // between them must not collide (each text carries its length).
  EndpointSlice a = Web(), b = Web();
  a.endpoints[0].node_name = "ab";
  a.endpoints[0].zone = "c";
  b.endpoints[0].node_name = "a";
  b.endpoints[0].zone = "bc";
  EXPECT_NE(KeptSlice::DigestOf(a), KeptSlice::DigestOf(b));
  EndpointSlice a_again = a;
  EXPECT_EQ(KeptSlice::DigestOf(a), KeptSlice::DigestOf(a_again));
}

}  // namespace
}  // namespace kpx
