#include "proxier/netfilter/xt_counters_hand_over.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

namespace kpx {
namespace {

XtCountersHandOver Make(std::vector<XtCountersHandOver::Count> old, std::vector<uint32_t> index) {
  return XtCountersHandOver(AF_INET, IPPROTO_IP, 0, "filter",
                            XtCountersHandOver::Counters(old.begin(), old.end()), std::move(index));
}

// Only a kept entry that counted something needs the call: a first sync's table, or one whose
// counted entries were all replaced, skips it (and a table-sized request).
TEST(XtCountersHandOverTest, NeededOnlyWhenAKeptEntryCounted) {
  const uint32_t kNew = XtCountersHandOver::kNew;
  EXPECT_FALSE(Make({{0, 0}, {0, 0}}, {0, kNew, 1}).needed());
  EXPECT_FALSE(Make({{0, 0}, {7, 700}}, {0, kNew}).needed());  // the counted one was not kept
  EXPECT_TRUE(Make({{0, 0}, {7, 700}}, {kNew, 1}).needed());
  EXPECT_TRUE(Make({{0, 64}}, {0}).needed());
  EXPECT_FALSE(Make({{7, 700}}, {5}).needed());  // an index past the old table is no entry of it
}

// Not needed: no socket is opened, so this runs without the kernel's tables or privileges.
TEST(XtCountersHandOverTest, RunMakesNoCallWhenNothingCounted) {
  auto made = Make({{0, 0}}, {0}).Run();
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_FALSE(*made);
}

}  // namespace
}  // namespace kpx
