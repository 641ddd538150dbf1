#include "proxier/core/endpoint_selection.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

// IP plan: endpoints 10.0.0.1-9; "L" marks an endpoint on this node ("node-a", zone "z1").
struct Ep {
  const char* ip;
  bool ready, serving, terminating, local;
  std::vector<std::string> hints = {};
};

EndpointList Build(const std::vector<Ep>& eps) {
  std::vector<EndpointInfo> out;
  for (const auto& e : eps) {
    EndpointInfo* info = &out.emplace_back();
    info->ip = Ip(e.ip);
    info->port = 80;
    info->ready = e.ready;
    info->serving = e.serving;
    info->terminating = e.terminating;
    info->is_local = e.local;
    info->hint_zones = e.hints;
  }
  return EndpointList(std::move(out));
}

std::vector<std::string> Ips(const EndpointList& l) {
  std::vector<std::string> out;
  for (const auto& e : l) out.push_back(e->ip.ToString());
  return out;
}

using Strings = std::vector<std::string>;

ServicePortInfo Svc(TrafficPolicy itp, TrafficPolicy etp, int node_port) {
  ServicePortInfo s;
  s.internal_policy = itp;
  s.external_policy = etp;
  s.node_port = node_port;
  return s;
}

constexpr auto C = TrafficPolicy::kCluster;
constexpr auto L = TrafficPolicy::kLocal;

struct Case {
  const char* name;
  ServicePortInfo svc;
  std::vector<Ep> eps;
  std::string zone;
  Strings cluster, local, reachable;
  bool has_any;
};

TEST(EndpointSelectionTest, FollowsKubeProxyRules) {
  const Case cases[] = {
      {"cluster policy uses ready endpoints",
       Svc(C, C, 0),
       {{"10.0.0.2", true, true, false, false},
        {"10.0.0.1", true, true, false, true},
        {"10.0.0.3", false, false, false, false}},
       "",
       {"10.0.0.1", "10.0.0.2"},
       {},
       {"10.0.0.1", "10.0.0.2"},
       true},
      {"falls back to serving terminating when none ready",
       Svc(C, C, 0),
       {{"10.0.0.1", false, true, true, false},
        {"10.0.0.2", false, false, true, false},
        {"10.0.0.3", false, false, false, false}},
       "",
       {"10.0.0.1"},
       {},
       {"10.0.0.1"},
       true},
      {"no fallback while something is ready",
       Svc(C, C, 0),
       {{"10.0.0.1", false, true, true, false}, {"10.0.0.2", true, true, false, false}},
       "",
       {"10.0.0.2"},
       {},
       {"10.0.0.2"},
       true},
      {"nothing usable",
       Svc(C, C, 0),
       {{"10.0.0.1", false, false, true, false}},
       "",
       {},
       {},
       {},
       false},
      {"internal local uses only local ready endpoints",
       Svc(L, C, 0),
       {{"10.0.0.1", true, true, false, false}, {"10.0.0.2", true, true, false, true}},
       "",
       {},
       {"10.0.0.2"},
       {"10.0.0.2"},
       true},
      {"internal local without local endpoints still reports remote ones exist",
       Svc(L, C, 0),
       {{"10.0.0.1", true, true, false, false}},
       "",
       {},
       {},
       {},
       true},
      {"local falls back to local serving terminating",
       Svc(L, C, 0),
       {{"10.0.0.1", true, true, false, false},
        {"10.0.0.2", false, true, true, true},
        {"10.0.0.3", false, false, true, true}},
       "",
       {},
       {"10.0.0.2"},
       {"10.0.0.2"},
       true},
      {"external local with internal cluster uses both sets",
       Svc(C, L, 30080),
       {{"10.0.0.1", true, true, false, false}, {"10.0.0.2", true, true, false, true}},
       "",
       {"10.0.0.1", "10.0.0.2"},
       {"10.0.0.2"},
       {"10.0.0.1", "10.0.0.2"},
       true},
      {"external local is ignored when not externally accessible",
       Svc(C, L, 0),
       {{"10.0.0.1", true, true, false, false}},
       "",
       {"10.0.0.1"},
       {},
       {"10.0.0.1"},
       true},
      {"both local but externally reachable: cluster set kept for short-circuiting",
       Svc(L, L, 30080),
       {{"10.0.0.1", true, true, false, false}, {"10.0.0.2", true, true, false, true}},
       "",
       {"10.0.0.1", "10.0.0.2"},
       {"10.0.0.2"},
       {"10.0.0.1", "10.0.0.2"},
       true},
      {"internal local and not externally reachable: only local endpoints",
       Svc(L, L, 0),
       {{"10.0.0.1", true, true, false, false}, {"10.0.0.2", true, true, false, true}},
       "",
       {},
       {"10.0.0.2"},
       {"10.0.0.2"},
       true},
      {"zone hints filter cluster endpoints",
       Svc(C, C, 0),
       {{"10.0.0.1", true, true, false, false, {"z1"}},
        {"10.0.0.2", true, true, false, false, {"z2"}},
        {"10.0.0.3", true, true, false, false, {"z1", "z2"}}},
       "z1",
       {"10.0.0.1", "10.0.0.3"},
       {},
       {"10.0.0.1", "10.0.0.3"},
       true},
      {"hints ignored when one ready endpoint lacks them",
       Svc(C, C, 0),
       {{"10.0.0.1", true, true, false, false, {"z1"}}, {"10.0.0.2", true, true, false, false}},
       "z1",
       {"10.0.0.1", "10.0.0.2"},
       {},
       {"10.0.0.1", "10.0.0.2"},
       true},
      {"hints ignored when none is for this zone",
       Svc(C, C, 0),
       {{"10.0.0.1", true, true, false, false, {"z2"}},
        {"10.0.0.2", true, true, false, false, {"z3"}}},
       "z1",
       {"10.0.0.1", "10.0.0.2"},
       {},
       {"10.0.0.1", "10.0.0.2"},
       true},
      {"hints ignored when the node has no zone",
       Svc(C, C, 0),
       {{"10.0.0.1", true, true, false, false, {"z1"}},
        {"10.0.0.2", true, true, false, false, {"z2"}}},
       "",
       {"10.0.0.1", "10.0.0.2"},
       {},
       {"10.0.0.1", "10.0.0.2"},
       true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto sel = SelectEndpoints(c.svc, Build(c.eps), NodeTopology{"node-a", c.zone});
    EXPECT_EQ(Ips(sel.cluster()), c.cluster);
    EXPECT_EQ(Ips(sel.local()), c.local);
    EXPECT_EQ(Ips(sel.all_reachable()), c.reachable);
    EXPECT_EQ(sel.has_any_endpoints(), c.has_any);
    EXPECT_EQ(sel.all().size(), c.eps.size());
  }
}

TEST(EndpointSelectionTest, SortsByAddressThenPort) {
  auto eps =
      Build({{"10.0.0.10", true, true, false, false}, {"10.0.0.9", true, true, false, false}});
  const auto sel = SelectEndpoints(Svc(C, C, 0), eps, NodeTopology{"node-a", ""});
  EXPECT_EQ(Ips(sel.all()), (Strings{"10.0.0.9", "10.0.0.10"}));
}

// Equal subsets are one array: a port whose endpoints are all ready holds them once, not three
// times (all, cluster, all_reachable), and the selections still compare by content.
TEST(EndpointSelectionTest, EqualSubsetsShareOneArray) {
  const auto ready =
      Build({{"10.0.0.1", true, true, false, false}, {"10.0.0.2", true, true, false, true}});
  const auto sel = SelectEndpoints(Svc(C, C, 0), ready, NodeTopology{"node-a", ""});
  EXPECT_TRUE(sel.cluster().SharesWith(sel.all()));
  EXPECT_TRUE(sel.all_reachable().SharesWith(sel.all()));

  // eTP=Local on a NodePort: the union of cluster and local is the cluster set.
  const auto both = SelectEndpoints(Svc(C, L, 30080), ready, NodeTopology{"node-a", ""});
  EXPECT_EQ(Ips(both.local()), Strings{"10.0.0.2"});
  EXPECT_TRUE(both.all_reachable().SharesWith(both.cluster()));

  // A subset that drops an endpoint is its own array, and equality is by content.
  const auto mixed = SelectEndpoints(
      Svc(C, C, 0),
      Build({{"10.0.0.1", true, true, false, false}, {"10.0.0.2", false, false, false, false}}),
      NodeTopology{"node-a", ""});
  EXPECT_FALSE(mixed.cluster().SharesWith(mixed.all()));
  EXPECT_EQ(Ips(mixed.cluster()), Strings{"10.0.0.1"});
  const auto again = SelectEndpoints(Svc(C, C, 0), ready, NodeTopology{"node-a", ""});
  EXPECT_TRUE(again == sel);
  EXPECT_FALSE(mixed == sel);
}

// Copies and moves keep every subset, whether held inline (the usual case) or in the separate
// block (here: a local subset); ASan checks the block is owned once.
TEST(EndpointSelectionTest, CopiesAndMovesKeepEverySubset) {
  const auto eps =
      Build({{"10.0.0.1", true, true, false, false}, {"10.0.0.2", true, true, false, true}});
  const auto local = SelectEndpoints(Svc(C, L, 30080), eps, NodeTopology{"node-a", ""});
  const auto usual = SelectEndpoints(Svc(C, C, 0), eps, NodeTopology{"node-a", ""});
  EXPECT_TRUE(usual.local().empty());
  EXPECT_TRUE(usual.has_any_endpoints());
  for (const EndpointSelection* sel : {&local, &usual}) {
    EndpointSelection copy = *sel;
    EXPECT_TRUE(copy == *sel);
    EXPECT_EQ(Ips(copy.local()), Ips(sel->local()));
    EXPECT_EQ(copy.has_any_endpoints(), sel->has_any_endpoints());
    EndpointSelection moved = std::move(copy);
    EXPECT_TRUE(moved == *sel);
    copy = moved;  // assigning into a moved-from selection
    EXPECT_TRUE(copy == *sel);
    moved = usual;
    EXPECT_TRUE(moved == usual);
  }
  EXPECT_EQ(Ips(local.local()), Strings{"10.0.0.2"});
  const EndpointSelection none;
  EXPECT_FALSE(none.has_any_endpoints());
  EXPECT_TRUE(none.all().empty() && none.cluster().empty() && none.all_reachable().empty());
}

}  // namespace
}  // namespace kpx
