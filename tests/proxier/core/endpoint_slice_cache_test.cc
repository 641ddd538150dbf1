#include "proxier/core/endpoint_slice_cache.h"

#include <gtest/gtest.h>

#include "proxier/core/service_port_info.h"
#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::MakeEndpoint;
using testing::MakeService;
using testing::MakeSlice;

ServicePortInfo WebPort() { return ServicePortsOf(MakeService("ns", "web"))[0]; }

std::vector<std::string> Strings(const EndpointList& l) {
  std::vector<std::string> out;
  for (const auto& e : l) out.push_back(e->ToString() + (e->ready ? "" : " notready"));
  return out;
}

TEST(EndpointSliceCacheTest, MergesSlicesAndDeduplicatesPreferringReady) {
  EndpointSliceCache cache("n2");
  cache.Update(MakeSlice("ns", "web", "web-a",
                         {MakeEndpoint("10.0.0.1", "n1"),
                          MakeEndpoint("10.0.0.2", "n1", [](Endpoint& e) { e.ready = false; })}));
  cache.Update(MakeSlice("ns", "web", "web-b",
                         {MakeEndpoint("10.0.0.2", "n2"), MakeEndpoint("10.0.0.3", "n2")}));
  const auto eps = cache.EndpointsFor(WebPort(), IpFamily::kIPv4);
  EXPECT_EQ(Strings(eps),
            (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"}));
  EXPECT_FALSE(eps[0]->is_local);
  EXPECT_TRUE(eps[1]->is_local);  // the ready copy from n2 won
  EXPECT_EQ(cache.slice_count(), 2u);
}

TEST(EndpointSliceCacheTest, MatchesPortByNameAndProtocolAndFamily) {
  EndpointSliceCache cache;
  cache.Update(
      MakeSlice("ns", "web", "web-a", {MakeEndpoint("10.0.0.1", "n1")}, [](EndpointSlice& s) {
        s.ports = {{"http", Protocol::kUDP, 9000}};
      }));
  cache.Update(MakeSlice("ns", "web", "web-6", {MakeEndpoint("fd00::1", "n1")},
                         [](EndpointSlice& s) { s.address_type = IpFamily::kIPv6; }));
  cache.Update(MakeSlice("ns", "web", "web-b", {MakeEndpoint("10.0.0.2", "n1")}));
  EXPECT_EQ(Strings(cache.EndpointsFor(WebPort(), IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.2:8080"}));
  EXPECT_EQ(Strings(cache.EndpointsFor(WebPort(), IpFamily::kIPv6)),
            (std::vector<std::string>{"[fd00::1]:8080"}));
}

TEST(EndpointSliceCacheTest, TracksDirtyServicesAndDeletes) {
  EndpointSliceCache cache;
  const auto slice = MakeSlice("ns", "web", "web-a", {MakeEndpoint("10.0.0.1", "n1")});
  cache.Update(slice);
  cache.Update(MakeSlice("ns", "api", "api-a", {}));
  EXPECT_EQ(cache.TakeDirty(), (std::set<std::string>{"ns/api", "ns/web"}));
  EXPECT_TRUE(cache.TakeDirty().empty());
  cache.Delete(slice);
  EXPECT_EQ(cache.TakeDirty(), (std::set<std::string>{"ns/web"}));
  EXPECT_TRUE(cache.EndpointsFor(WebPort(), IpFamily::kIPv4).empty());
  EXPECT_EQ(cache.slice_count(), 1u);
}

// Entries are built once per slice change and shared by every query (and so by every snapshot);
// a slice update replaces them. Locality is decided for the cache's node when the slice arrives.
TEST(EndpointSliceCacheTest, SharesEntriesUntilTheSliceChanges) {
  EndpointSliceCache cache("n1");
  cache.Update(MakeSlice("ns", "web", "web-a",
                         {MakeEndpoint("10.0.0.1", "n1"), MakeEndpoint("10.0.0.2", "n2"),
                          MakeEndpoint("10.0.0.9", "n1", [](Endpoint& e) { e.addresses.clear(); }),
                          MakeEndpoint("10.0.0.3", "n1", [](Endpoint& e) {
                            e.addresses.push_back(*IpAddress::Parse("10.0.0.4"));
                          })}));
  const auto first = cache.EndpointsFor(WebPort(), IpFamily::kIPv4);
  const auto second = cache.EndpointsFor(WebPort(), IpFamily::kIPv4);
  // No address: skipped; several: the first one counts, as in kube-proxy.
  ASSERT_EQ(Strings(first),
            (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"}));
  // One slice: every query hands out the slice's own block, sorted by address.
  EXPECT_TRUE(first.SharesWith(second));
  EXPECT_TRUE(first[0]->is_local);
  EXPECT_FALSE(first[1]->is_local);

  cache.Update(MakeSlice("ns", "web", "web-a",
                         {MakeEndpoint("10.0.0.1", "n1", [](Endpoint& e) { e.ready = false; })}));
  const auto after = cache.EndpointsFor(WebPort(), IpFamily::kIPv4);
  ASSERT_EQ(Strings(after), (std::vector<std::string>{"10.0.0.1:8080 notready"}));
  EXPECT_FALSE(after[0].SameEntry(first[0]));
  EXPECT_TRUE(first[0]->ready);  // what an earlier snapshot holds is immutable
}

TEST(EndpointSliceCacheTest, OneSliceIsSortedAndRepeatedAddressesAreListedOnce) {
  EndpointSliceCache cache("n1");
  cache.Update(MakeSlice("ns", "web", "web-a",
                         {MakeEndpoint("10.0.0.3", "n1"),
                          MakeEndpoint("10.0.0.1", "n1", [](Endpoint& e) { e.ready = false; }),
                          MakeEndpoint("10.0.0.2", "n1"), MakeEndpoint("10.0.0.1", "n2")}));
  const auto eps = cache.EndpointsFor(WebPort(), IpFamily::kIPv4);
  // The ready copy of 10.0.0.1 wins over the one listed first, as across slices.
  EXPECT_EQ(Strings(eps),
            (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"}));
  EXPECT_TRUE(eps[0]->ready);
  EXPECT_FALSE(eps[0]->is_local);  // the copy on n2
}

// Slices are merged in name order whatever order they arrived in: of two unready copies of one
// address, the slice first by name wins.
TEST(EndpointSliceCacheTest, SlicesMergeInNameOrderAndDeleteOneAtATime) {
  EndpointSliceCache cache("n1");
  auto unready = [](Endpoint& e) { e.ready = false; };
  cache.Update(MakeSlice("ns", "web", "web-c", {MakeEndpoint("10.0.0.1", "n3", unready)}));
  cache.Update(MakeSlice("ns", "web", "web-a", {MakeEndpoint("10.0.0.1", "n1", unready)}));
  cache.Update(MakeSlice("ns", "web", "web-b", {MakeEndpoint("10.0.0.2", "n2")}));
  EXPECT_EQ(cache.slice_count(), 3u);
  auto eps = cache.EndpointsFor(WebPort(), IpFamily::kIPv4);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_TRUE(eps[0]->is_local);  // the copy on n1, in web-a

  cache.Delete(MakeSlice("ns", "web", "web-a", {}));
  eps = cache.EndpointsFor(WebPort(), IpFamily::kIPv4);
  // Merged in slice order (web-b, web-c); SelectEndpoints sorts by address later.
  EXPECT_EQ(Strings(eps), (std::vector<std::string>{"10.0.0.2:8080", "10.0.0.1:8080 notready"}));
  EXPECT_FALSE(eps[1]->is_local);
  cache.Delete(MakeSlice("ns", "web", "web-b", {}));
  cache.Delete(MakeSlice("ns", "web", "web-c", {}));
  EXPECT_EQ(cache.slice_count(), 0u);
  EXPECT_TRUE(cache.EndpointsFor(WebPort(), IpFamily::kIPv4).empty());
}

// The one-slice, one-port case is held inline: a second slice or port, a slice without ports,
// and going back to one slice keep every slice and port reachable.
TEST(EndpointSliceCacheTest, SeveralPortsAndSlicesAndBackToOne) {
  EndpointSliceCache cache;
  auto two_ports = [](EndpointSlice& s) {
    s.ports = {{"metrics", Protocol::kTCP, 9090},
               {"http", Protocol::kTCP, 8080},
               {"http", Protocol::kTCP, 1111}};  // shadowed by the first "http"
  };
  ServicePortInfo metrics = WebPort();
  metrics.name.port = "metrics";
  cache.Update(MakeSlice("ns", "web", "web-b", {MakeEndpoint("10.0.0.2", "n1")}, two_ports));
  EXPECT_EQ(Strings(cache.EndpointsFor(WebPort(), IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.2:8080"}));
  EXPECT_EQ(Strings(cache.EndpointsFor(metrics, IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.2:9090"}));
  cache.Update(MakeSlice("ns", "web", "web-c", {MakeEndpoint("10.0.0.3", "n1")},
                         [](EndpointSlice& s) { s.ports.clear(); }));
  cache.Update(MakeSlice("ns", "web", "web-a", {MakeEndpoint("10.0.0.1", "n1")}));
  cache.Update(MakeSlice("ns", "api", "api-a", {MakeEndpoint("10.0.1.1", "n1")}));
  EXPECT_EQ(cache.slice_count(), 4u);
  EXPECT_EQ(Strings(cache.EndpointsFor(WebPort(), IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080"}));
  EXPECT_EQ(Strings(cache.EndpointsFor(metrics, IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.2:9090"}));

  // Replaced in place, then deleted down to one slice (which moves back inline) and none.
  cache.Update(MakeSlice("ns", "web", "web-b", {MakeEndpoint("10.0.0.4", "n1")}, two_ports));
  cache.Delete(MakeSlice("ns", "web", "web-a", {}));
  cache.Delete(MakeSlice("ns", "web", "web-a", {}));  // twice: nothing more to do
  cache.Delete(MakeSlice("ns", "web", "web-c", {}));
  EXPECT_EQ(cache.slice_count(), 2u);
  EXPECT_EQ(Strings(cache.EndpointsFor(WebPort(), IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.4:8080"}));
  EXPECT_EQ(Strings(cache.EndpointsFor(metrics, IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.4:9090"}));
  cache.Delete(MakeSlice("ns", "web", "web-b", {}));
  EXPECT_TRUE(cache.EndpointsFor(WebPort(), IpFamily::kIPv4).empty());
  EXPECT_EQ(cache.slice_count(), 1u);
  cache.Update(MakeSlice("ns", "web", "web-a", {MakeEndpoint("10.0.0.5", "n1")}));
  EXPECT_EQ(Strings(cache.EndpointsFor(WebPort(), IpFamily::kIPv4)),
            (std::vector<std::string>{"10.0.0.5:8080"}));
  EXPECT_EQ(cache.TakeDirty(), (std::set<std::string>{"ns/api", "ns/web"}));
}

}  // namespace
}  // namespace kpx
