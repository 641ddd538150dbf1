#include "proxier/ipvs/graceful_termination.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proxier/ipvs/fake_ipvs_handle.h"

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

using std::chrono::seconds;

// IP plan: one TCP and one UDP virtual server on 10.96.0.10, backends 10.244.1.5 and .6.
const IpAddress kVip = Ip("10.96.0.10");
const IpvsDestinationKey kA{Ip("10.244.1.5"), 8080};
const IpvsDestinationKey kB{Ip("10.244.1.6"), 8080};

class GracefulTerminationTest : public ::testing::Test {
 protected:
  GracefulTerminationTest() : gt_(&ipvs_, seconds(60), [this] { return now_; }) {
    for (Protocol p : {Protocol::kTCP, Protocol::kUDP}) {
      IpvsService s;
      s.key = {p, kVip, 80};
      EXPECT_TRUE(ipvs_.AddService(s).ok());
      for (const auto& k : {kA, kB}) {
        IpvsDestination d;
        d.key = k;
        EXPECT_TRUE(ipvs_.AddDestination(s.key, d).ok());
      }
    }
  }
  IpvsService Svc(Protocol p) { return *ipvs_.FindService({p, kVip, 80}); }
  const IpvsDestination* Find(Protocol p, const IpvsDestinationKey& k) {
    return ipvs_.FindDestination({p, kVip, 80}, k);
  }
  // Retires with the counters the fake currently reports, as the dataplane would.
  KernelStatus RetireObserved(Protocol p, const IpvsDestinationKey& k) {
    return gt_.Retire(Svc(p), *Find(p, k));
  }

  FakeIpvsHandle ipvs_;
  std::chrono::steady_clock::time_point now_{seconds(1000)};
  GracefulTermination gt_;
};

TEST_F(GracefulTerminationTest, IdleDestinationIsDeletedAtOnce) {
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  EXPECT_EQ(Find(Protocol::kTCP, kA), nullptr);
  EXPECT_EQ(gt_.draining(), 0u);
  EXPECT_EQ(gt_.deleted_drained(), 1u);
}

TEST_F(GracefulTerminationTest, BusyDestinationGetsWeightZeroThenGoesWhenDrained) {
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 2, 1);
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  ASSERT_NE(Find(Protocol::kTCP, kA), nullptr);
  EXPECT_EQ(Find(Protocol::kTCP, kA)->weight, 0);
  EXPECT_TRUE(gt_.IsDraining(Svc(Protocol::kTCP).key, kA));

  now_ += seconds(10);
  EXPECT_EQ(*gt_.Process(), 0);
  ASSERT_NE(Find(Protocol::kTCP, kA), nullptr);

  // TCP: closing connections (inactive) do not hold the destination.
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 0, 1);
  EXPECT_EQ(*gt_.Process(), 1);
  EXPECT_EQ(Find(Protocol::kTCP, kA), nullptr);
  EXPECT_NE(Find(Protocol::kTCP, kB), nullptr);
  EXPECT_EQ(gt_.draining(), 0u);
}

TEST_F(GracefulTerminationTest, UdpWaitsForInactiveFlowsToo) {
  ipvs_.SetConnections(Svc(Protocol::kUDP).key, kB, 0, 3);
  ASSERT_TRUE(RetireObserved(Protocol::kUDP, kB).ok());
  EXPECT_EQ(Find(Protocol::kUDP, kB)->weight, 0);
  EXPECT_EQ(*gt_.Process(), 0);
  ipvs_.SetConnections(Svc(Protocol::kUDP).key, kB, 0, 0);
  EXPECT_EQ(*gt_.Process(), 1);
  EXPECT_EQ(Find(Protocol::kUDP, kB), nullptr);
}

TEST_F(GracefulTerminationTest, BoundEndsTheWait) {
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 5, 0);
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  now_ += seconds(59);
  EXPECT_EQ(*gt_.Process(), 0);
  now_ += seconds(1);
  EXPECT_EQ(*gt_.Process(), 1);
  EXPECT_EQ(Find(Protocol::kTCP, kA), nullptr);
  EXPECT_EQ(gt_.deleted_at_bound(), 1u);
}

TEST_F(GracefulTerminationTest, RetireTwiceKeepsTheOriginalStart) {
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 1, 0);
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  now_ += seconds(50);
  ipvs_.ClearLog();
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  EXPECT_TRUE(ipvs_.log().empty());  // weight already 0: no second update
  now_ += seconds(10);
  EXPECT_EQ(*gt_.Process(), 1);
}

TEST_F(GracefulTerminationTest, CancelKeepsTheDestination) {
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 1, 0);
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  EXPECT_TRUE(gt_.Cancel(Svc(Protocol::kTCP).key, kA));
  EXPECT_FALSE(gt_.Cancel(Svc(Protocol::kTCP).key, kA));
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 0, 0);
  now_ += seconds(120);
  EXPECT_EQ(*gt_.Process(), 0);
  EXPECT_NE(Find(Protocol::kTCP, kA), nullptr);
}

TEST_F(GracefulTerminationTest, AdoptsWeightZeroDestinationAfterRestart) {
  // A previous kpx left kA at weight 0 with connections; a fresh instance retires it again.
  IpvsDestination d = *Find(Protocol::kTCP, kA);
  d.weight = 0;
  ASSERT_TRUE(ipvs_.UpdateDestination(Svc(Protocol::kTCP).key, d).ok());
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 1, 0);
  ipvs_.ClearLog();
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  EXPECT_TRUE(ipvs_.log().empty());
  EXPECT_EQ(gt_.draining(), 1u);
}

TEST_F(GracefulTerminationTest, VanishedServiceOrDestinationIsForgotten) {
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 1, 0);
  ipvs_.SetConnections(Svc(Protocol::kUDP).key, kA, 0, 1);
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  ASSERT_TRUE(RetireObserved(Protocol::kUDP, kA).ok());
  ASSERT_TRUE(ipvs_.DeleteService(Svc(Protocol::kTCP).key).ok());
  EXPECT_EQ(*gt_.Process(), 0);
  EXPECT_EQ(gt_.draining(), 1u);
  gt_.ForgetService(Svc(Protocol::kUDP).key);
  EXPECT_EQ(gt_.draining(), 0u);
}

TEST_F(GracefulTerminationTest, KernelErrorsKeepTheEntry) {
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 1, 0);
  ASSERT_TRUE(RetireObserved(Protocol::kTCP, kA).ok());
  ipvs_.SetConnections(Svc(Protocol::kTCP).key, kA, 0, 0);
  ipvs_.FailNextMutations(1);
  EXPECT_FALSE(gt_.Process().ok());
  EXPECT_EQ(gt_.draining(), 1u);
  EXPECT_EQ(*gt_.Process(), 1);
}

}  // namespace
}  // namespace kpx
