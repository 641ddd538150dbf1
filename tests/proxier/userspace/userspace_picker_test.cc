// Endpoint picking (round robin, ClientIP affinity with its timeout, retries) and the
// per-service connection limit, on an injected clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "proxier/userspace/connection_limiter.h"
#include "proxier/userspace/endpoint_picker.h"
#include "proxier/userspace/frontend.h"

namespace kpx {
namespace {

using std::chrono::seconds;
using TimePoint = EndpointPicker::TimePoint;

// IP plan: endpoints 10.244.0.1-3 port 8080; clients 192.0.2.x.
Backend B(int i) { return Backend{IpAddress::FromV4(0x0af40000 + i), 8080}; }
IpAddress Client(int i) { return IpAddress::FromV4(0xc0000200 + i); }
const TimePoint kT0 = TimePoint(seconds(1000));

TEST(EndpointPicker, NoEndpointsPicksNothing) {
  EndpointPicker p;
  EXPECT_FALSE(p.Pick(Client(1), kT0).has_value());
  p.Update({}, true, seconds(10));
  EXPECT_FALSE(p.Pick(Client(1), kT0).has_value());
}

TEST(EndpointPicker, RoundRobinCyclesEvenly) {
  EndpointPicker p;
  p.Update({B(1), B(2), B(3)}, false, seconds(10));
  std::map<Backend, int> seen;
  for (int i = 0; i < 30; ++i) ++seen[*p.Pick(Client(1), kT0)];
  EXPECT_EQ(seen.size(), 3u);
  for (const auto& [b, n] : seen) EXPECT_EQ(n, 10) << b.ToString();
  EXPECT_EQ(p.affinity_entries(), 0u);
}

TEST(EndpointPicker, UpdateKeepsRotationPosition) {
  EndpointPicker p;
  p.Update({B(1), B(2), B(3)}, false, seconds(10));
  EXPECT_EQ(*p.Pick(Client(1), kT0), B(1));
  p.Update({B(1), B(2), B(3), B(4)}, false, seconds(10));
  EXPECT_EQ(*p.Pick(Client(1), kT0), B(2));
  p.Update({B(1)}, false, seconds(10));
  EXPECT_EQ(*p.Pick(Client(1), kT0), B(1));
}

TEST(EndpointPicker, AffinityStickyWithinTimeoutAndRefreshedByUse) {
  EndpointPicker p;
  p.Update({B(1), B(2), B(3)}, true, seconds(10));
  const Backend first = *p.Pick(Client(1), kT0);
  // Other clients move the rotation on; client 1 stays.
  for (int i = 2; i < 6; ++i) p.Pick(Client(i), kT0);
  EXPECT_EQ(*p.Pick(Client(1), kT0 + seconds(9)), first);
  // Each use refreshes: 9 s after the last use is still within 10 s.
  EXPECT_EQ(*p.Pick(Client(1), kT0 + seconds(18)), first);
  // 10 s without use: expired, the client is balanced again.
  // Rotation is at B(3): two more clients move it past `first`.
  p.Pick(Client(7), kT0 + seconds(18));
  p.Pick(Client(8), kT0 + seconds(18));
  const Backend later = *p.Pick(Client(1), kT0 + seconds(28));
  EXPECT_NE(later, first);
  EXPECT_EQ(*p.Pick(Client(1), kT0 + seconds(29)), later);
}

TEST(EndpointPicker, AffinityDroppedWhenEndpointRemoved) {
  EndpointPicker p;
  p.Update({B(1), B(2)}, true, seconds(100));
  EXPECT_EQ(*p.Pick(Client(1), kT0), B(1));
  p.Update({B(2), B(3)}, true, seconds(100));
  EXPECT_EQ(p.affinity_entries(), 0u);
  const Backend b = *p.Pick(Client(1), kT0);
  EXPECT_NE(b, B(1));
  EXPECT_EQ(*p.Pick(Client(1), kT0 + seconds(1)), b);
}

TEST(EndpointPicker, AffinityOffClearsEntries) {
  EndpointPicker p;
  p.Update({B(1), B(2)}, true, seconds(100));
  p.Pick(Client(1), kT0);
  p.Update({B(1), B(2)}, false, seconds(100));
  EXPECT_EQ(p.affinity_entries(), 0u);
}

TEST(EndpointPicker, PickNextSkipsTriedAndMovesAffinity) {
  EndpointPicker p;
  p.Update({B(1), B(2), B(3)}, true, seconds(100));
  const Backend first = *p.Pick(Client(1), kT0);
  std::vector<Backend> tried = {first};
  const Backend second = *p.PickNext(Client(1), tried, kT0);
  EXPECT_NE(second, first);
  tried.push_back(second);
  const Backend third = *p.PickNext(Client(1), tried, kT0);
  EXPECT_NE(third, first);
  EXPECT_NE(third, second);
  // The client now sticks to the endpoint that was tried last.
  EXPECT_EQ(*p.Pick(Client(1), kT0 + seconds(1)), third);
  tried.push_back(third);
  EXPECT_FALSE(p.PickNext(Client(1), tried, kT0).has_value());
  EXPECT_EQ(p.affinity_entries(), 0u);
}

TEST(EndpointPicker, ExpiredEntriesAreSwept) {
  EndpointPicker p;
  p.Update({B(1), B(2)}, true, seconds(10));
  for (int i = 0; i < 500; ++i) p.Pick(Client(i), kT0);
  EXPECT_EQ(p.affinity_entries(), 500u);
  for (int i = 0; i < 1100; ++i) p.Pick(Client(1000 + (i % 3)), kT0 + seconds(60));
  EXPECT_EQ(p.affinity_entries(), 3u);
}

TEST(EndpointPicker, ConcurrentPicksAndUpdates) {
  EndpointPicker p;
  p.Update({B(1), B(2)}, true, seconds(10));
  std::atomic<bool> stop{false};
  std::thread updater([&] {
    for (int i = 0; !stop; ++i)
      p.Update(i % 2 ? std::vector{B(1), B(2)} : std::vector{B(3)}, i % 3 == 0, seconds(10));
  });
  int picked = 0;
  for (int i = 0; i < 20000; ++i) picked += p.Pick(Client(i % 50), kT0).has_value();
  stop = true;
  updater.join();
  EXPECT_EQ(picked, 20000);
}

TEST(ConnectionLimiter, AdmitsUpToLimitAndReleases) {
  ConnectionLimiter l(2, std::chrono::milliseconds(10000));
  EXPECT_TRUE(l.TryAcquire(kT0).admitted);
  EXPECT_TRUE(l.TryAcquire(kT0).admitted);
  EXPECT_FALSE(l.TryAcquire(kT0).admitted);
  EXPECT_EQ(l.active(), 2);
  EXPECT_EQ(l.hits(), 1u);
  l.Release();
  EXPECT_TRUE(l.TryAcquire(kT0).admitted);
}

TEST(ConnectionLimiter, UnlimitedWithZero) {
  ConnectionLimiter l(0, std::chrono::milliseconds(10000));
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(l.TryAcquire(kT0).admitted);
  EXPECT_EQ(l.hits(), 0u);
}

TEST(ConnectionLimiter, WarningIsRateLimitedAndCountsRefusals) {
  ConnectionLimiter l(1, std::chrono::milliseconds(10000));
  ASSERT_TRUE(l.TryAcquire(kT0).admitted);
  EXPECT_EQ(l.TryAcquire(kT0).log_refused, 1u);  // first refusal: warn
  EXPECT_EQ(l.TryAcquire(kT0 + seconds(1)).log_refused, 0u);
  EXPECT_EQ(l.TryAcquire(kT0 + seconds(9)).log_refused, 0u);
  // Next interval: one warning covering the three refused since the last one.
  EXPECT_EQ(l.TryAcquire(kT0 + seconds(10)).log_refused, 3u);
  EXPECT_EQ(l.hits(), 4u);
  l.set_limit(5);
  EXPECT_TRUE(l.TryAcquire(kT0 + seconds(11)).admitted);
}

TEST(Frontend, UpdateSwapsEndpointsPerFamily) {
  FrontendSpec spec;
  spec.key.service = {"demo", "web", "", Protocol::kTCP};
  spec.backends[0] = {B(1)};
  Frontend f(spec, 10, std::chrono::milliseconds(1000));
  EXPECT_EQ(f.picker(IpFamily::kIPv4).size(), 1u);
  EXPECT_EQ(f.picker(IpFamily::kIPv6).size(), 0u);
  spec.backends[0] = {B(1), B(2)};
  f.Update(spec);
  EXPECT_EQ(f.picker(IpFamily::kIPv4).size(), 2u);
  EXPECT_EQ(f.limiter().limit(), 10);
}

}  // namespace
}  // namespace kpx
