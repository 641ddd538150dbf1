#include "tests/support/routed_topology.h"

namespace kpx::testing {

Status BuildRoutedTopology(TestNetns& netns, const RoutedTopology& t) {
  for (const char* role : {"c", "n", "b"}) {
    if (Status s = netns.Add(role); !s.ok()) return s;
  }
  const std::string& p = t.dev_prefix;
  std::vector<Status> steps = {
      netns.Link("c", p + "c0", "n", p + "n0"),
      netns.Link("b", p + "b0", "n", p + "n1"),
      netns.Ip("c", {"addr", "add", t.client_ip + "/24", "dev", p + "c0"}),
      netns.Ip("n", {"addr", "add", t.node_ip + "/24", "dev", p + "n0"}),
      netns.Ip("n", {"addr", "add", t.node_backend_ip + "/24", "dev", p + "n1"}),
  };
  for (const std::string& ip : t.backend_ips) {
    steps.push_back(netns.Ip("b", {"addr", "add", ip + "/24", "dev", p + "b0"}));
  }
  steps.push_back(netns.Ip("c", {"route", "add", "default", "via", t.node_ip}));
  steps.push_back(netns.Ip("b", {"route", "add", "default", "via", t.node_backend_ip}));
  if (!t.node_default_via.empty()) {
    steps.push_back(netns.Ip("n", {"route", "add", "default", "via", t.node_default_via}));
  }
  if (t.forwarding) steps.push_back(netns.Exec("n", {"sysctl", "-qw", "net.ipv4.ip_forward=1"}));
  for (const Status& s : steps) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace kpx::testing
