// The probe over the stateful fake, which raises a set's size or, like kernels before 6.5,
// accepts the raise and keeps the old size. The real kernel's answer is checked by
// NftIntegrationTest.SetsTakenPastTheirSizeAreRaisedInTheKernel.

#include "proxier/nftables/nft_set_sizes_probe.h"

#include <gtest/gtest.h>

#include "proxier/nftables/fake_nft_handle.h"

namespace kpx {
namespace {

TEST(NftSetSizesProbeTest, AnswersWhetherTheKernelRaisesASetsSize) {
  for (const bool updates : {true, false}) {
    FakeNftHandle fake;
    fake.SetSizesUpdate(updates);
    auto answer = NftSetSizesUpdate(fake);
    ASSERT_TRUE(answer.ok()) << answer.status().message();
    EXPECT_EQ(*answer, updates);
    EXPECT_TRUE(fake.tables()->empty()) << "the scratch table is removed";
  }
}

TEST(NftSetSizesProbeTest, RemovesWhatAnInterruptedProbeLeft) {
  FakeNftHandle fake;
  NftBatch leftover(1);
  leftover.AddTable(IpFamily::kIPv4, kNftProbeTable);
  leftover.AddSet(IpFamily::kIPv4, kNftProbeTable, NftSetSpec{"probe", 0, 0, 4, 0, 0, 5});
  ASSERT_TRUE(fake.Commit(leftover).ok());
  auto answer = NftSetSizesUpdate(fake);
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_TRUE(*answer);
  EXPECT_TRUE(fake.tables()->empty());
}

TEST(NftSetSizesProbeTest, AKernelRefusingTheSetIsANo) {
  FakeNftHandle fake;
  fake.FailNextCommit("EOPNOTSUPP");
  auto answer = NftSetSizesUpdate(fake);
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_FALSE(*answer);
  EXPECT_TRUE(fake.tables()->empty());
}

}  // namespace
}  // namespace kpx
