#include "cmd/node_sysctls.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace kpx {
namespace {

struct FakeProc {
  std::map<std::string, std::string> values;
  std::set<std::string> read_only;
  NodeSysctls Make(int cpus) {
    return NodeSysctls(
        [this](const std::string& p) -> std::optional<std::string> {
          auto it = values.find(p);
          if (it == values.end()) return std::nullopt;
          return it->second;
        },
        [this](const std::string& p, const std::string& v) {
          if (read_only.contains(p)) return false;
          values[p] = v;
          return true;
        },
        cpus);
  }
};

TEST(NodeSysctlsTest, RaisesConntrackMaxButNeverLowersIt) {
  FakeProc proc;
  proc.values["net/netfilter/nf_conntrack_max"] = "65536";
  KpxConfig c;  // 32768 per core, min 131072
  proc.Make(8).Apply(c);
  EXPECT_EQ(proc.values["net/netfilter/nf_conntrack_max"], "262144");
  proc.values["net/netfilter/nf_conntrack_max"] = "1000000";
  proc.Make(8).Apply(c);
  EXPECT_EQ(proc.values["net/netfilter/nf_conntrack_max"], "1000000");
  proc.values["net/netfilter/nf_conntrack_max"] = "1";
  proc.Make(2).Apply(c);
  EXPECT_EQ(proc.values["net/netfilter/nf_conntrack_max"], "131072") << "min wins on small nodes";
}

TEST(NodeSysctlsTest, SetsTimeoutsAndRouteLocalnetOnlyWhenAsked) {
  FakeProc proc;
  KpxConfig c;
  c.conntrack.max_per_core = 0;
  EXPECT_EQ(proc.Make(2).Apply(c), 2);
  EXPECT_EQ(proc.values["net/netfilter/nf_conntrack_tcp_timeout_established"], "86400");
  EXPECT_EQ(proc.values["net/netfilter/nf_conntrack_tcp_timeout_close_wait"], "3600");
  EXPECT_FALSE(proc.values.contains("net/ipv4/conf/all/route_localnet"));
  EXPECT_EQ(proc.Make(2).Apply(c), 0) << "nothing to do the second time";
  c.iptables.localhost_nodeports = true;
  proc.Make(2).Apply(c);
  EXPECT_EQ(proc.values["net/ipv4/conf/all/route_localnet"], "1");
}

TEST(NodeSysctlsTest, RefusedSettingsAreSkipped) {
  FakeProc proc;
  proc.read_only.insert("net/netfilter/nf_conntrack_max");
  KpxConfig c;
  EXPECT_EQ(proc.Make(4).Apply(c), 2);
  EXPECT_FALSE(proc.values.contains("net/netfilter/nf_conntrack_max"));
}

}  // namespace
}  // namespace kpx
