#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "tests/support/netns.h"

namespace kpx::testing {

// The network the dataplane integration tests share: a client namespace "c" and a backends
// namespace "b", each on its own veth to the node "n", which routes between them (IPv4 /24s).
// Namespaces "c", "n" and "b" are added to `netns` by BuildRoutedTopology.
struct RoutedTopology {
  std::string dev_prefix;       // veths <p>c0 (client) - <p>n0 and <p>b0 (backends) - <p>n1
  std::string client_ip;        // the client's address
  std::string node_ip;          // the node's address on the client's side, the client's gateway
  std::string node_backend_ip;  // the node's address on the backends' side, their gateway
  std::vector<std::string> backend_ips;  // all on the backends' one veth
  // The node's default route ("" for none): traffic the node does not rewrite must be routable
  // to reach the hooks after routing (FORWARD's rejects, OUTPUT's redirects).
  std::string node_default_via = {};
  bool forwarding = false;  // net.ipv4.ip_forward on the node
};

Status BuildRoutedTopology(TestNetns& netns, const RoutedTopology& topology);

}  // namespace kpx::testing
