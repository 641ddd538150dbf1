#include "proxier/core/desired_state.h"

#include <gtest/gtest.h>

#include "proxier/core/state_builder.h"
#include "tests/support/api_objects.h"

namespace kpx {
namespace {

using testing::MakeEndpoint;
using testing::MakeNode;
using testing::MakeService;
using testing::MakeSlice;

TEST(DesiredStateTest, WithoutChangesKeepsEverythingButTheChangeSet) {
  StateBuilder b("node-a");
  b.UpdateNode(MakeNode("node-a"));
  b.UpdateService(MakeService("ns", "web"));
  b.AddEndpointSlice(MakeSlice("ns", "web", "web-1", {MakeEndpoint("10.0.0.1", "node-a")}));
  b.SetSynced(true);
  DesiredState s = b.Snapshot();
  ASSERT_FALSE(s.changed.empty());
  ASSERT_FALSE(s.node.name.empty());
  // Not the defaults, so that a field the copy forgot shows.
  s.generation = 7;
  s.node_changed = true;
  s.synced = true;

  const DesiredState kept = s.WithoutChanges();
  EXPECT_TRUE(kept.changed.empty());
  EXPECT_EQ(kept.generation, s.generation);
  EXPECT_EQ(kept.node, s.node);
  EXPECT_EQ(kept.node_changed, s.node_changed);
  EXPECT_EQ(kept.synced, s.synced);
  ASSERT_EQ(kept.services.size(), s.services.size());
  // The entries themselves are shared, not copied.
  for (const auto& [name, port] : s.services) EXPECT_EQ(kept.Find(name), port.get());
}

}  // namespace
}  // namespace kpx
