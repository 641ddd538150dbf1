#include "tests/support/recording_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/support/api_objects.h"

namespace kpx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RecordingHandlerTest, RecordsEventsObjectsAndTheView) {
  RecordingHandler h;
  const Service web = MakeService("ns", "web");
  const Service web2 = MakeService("ns", "web", [](Service& s) { s.ports[0].port = 81; });
  h.OnServiceAdd(web);
  h.OnServiceUpdate(web, web2);
  h.OnServiceSynced();
  h.OnEndpointSliceAdd(MakeSlice("ns", "web", "web-1", {MakeEndpoint("10.0.0.1", "n1")}));
  h.OnNodeAdd(MakeNode("n1"));
  h.OnNodeDelete(MakeNode("n1"));
  EXPECT_THAT(h.events(),
              ElementsAre("service add ns/web", "service update ns/web", "service synced",
                          "endpointslice add ns/web-1", "node add n1", "node delete n1"));
  ASSERT_EQ(h.call_count(), 6u);
  const auto calls = h.calls();
  EXPECT_EQ(calls[1].op, 'U');
  EXPECT_EQ(calls[1].kind, "service");
  EXPECT_EQ(*calls[1].old_service, web);
  EXPECT_EQ(*calls[1].service, web2);
  EXPECT_EQ(calls[3].kind, "slice");
  EXPECT_EQ(h.services().at("ns/web"), web2);
  EXPECT_EQ(h.slices().size(), 1u);
  EXPECT_THAT(h.nodes(), IsEmpty());
  EXPECT_EQ(h.synced("service"), 1);
  EXPECT_THAT(h.violations(), IsEmpty());
  h.ClearCalls();
  EXPECT_EQ(h.call_count(), 0u);
  EXPECT_EQ(h.services().size(), 1u);  // the view stays
}

TEST(RecordingHandlerTest, CallsThatContradictTheViewAreViolations) {
  RecordingHandler h;
  const Service web = MakeService("ns", "web");
  const Service other = MakeService("ns", "web", [](Service& s) { s.ports[0].port = 81; });
  h.OnServiceAdd(web);
  h.OnServiceAdd(web);
  h.OnServiceUpdate(other, web);
  h.OnServiceUpdate(web, web);
  h.OnServiceDelete(MakeService("ns", "gone"));
  h.OnNodeUpdate(MakeNode("n1"),
                 MakeNode("n1", [](Node& n) { n.internal_ips = {Ip("10.0.0.1")}; }));
  h.OnServiceSynced();
  h.OnServiceSynced();
  EXPECT_THAT(
      h.violations(),
      ElementsAre("add of known service ns/web", "stale old object in update of service ns/web",
                  // web to web, whatever old object the call names
                  "no-op update of service ns/web", "no-op update of service ns/web",
                  "delete of unknown service ns/gone", "update of unknown node n1",
                  "service synced twice"));
}

// A source may name the old slice by its identity alone (EndpointSliceHandler); a different
// slice, or one with other endpoints, is still a stale old object.
TEST(RecordingHandlerTest, AnUpdateMayNameTheOldSliceByItsIdentity) {
  RecordingHandler h;
  Endpoint a;
  a.addresses = {Ip("10.0.0.1")};
  Endpoint b = a;
  b.addresses = {Ip("10.0.0.2")};
  const EndpointSlice v1 = MakeSlice("ns", "web", "web-1", {a});
  const EndpointSlice v2 = MakeSlice("ns", "web", "web-1", {b});
  EndpointSlice identity = v1;
  identity.endpoints.clear();
  identity.ports.clear();
  h.OnEndpointSliceAdd(v1);
  h.OnEndpointSliceUpdate(identity, v2);
  EXPECT_THAT(h.violations(), IsEmpty());
  Endpoint c = a;
  c.addresses = {Ip("10.0.0.3")};
  h.OnEndpointSliceUpdate(v1, MakeSlice("ns", "web", "web-1", {c}));
  EXPECT_THAT(h.violations(), ElementsAre("stale old object in update of slice ns/web-1"));
}

TEST(RecordingHandlerTest, WaitsAreBounded) {
  RecordingHandler h;
  EXPECT_FALSE(h.WaitForCalls(1, std::chrono::milliseconds(20)));
  std::thread t([&] { h.OnNodeSynced(); });
  EXPECT_TRUE(h.WaitForCalls(1, std::chrono::seconds(10)));
  t.join();
  EXPECT_TRUE(h.WaitUntil([&] { return h.synced_locked("node") == 1; }, std::chrono::seconds(1)));
}

}  // namespace
}  // namespace kpx::testing
