#pragma once

#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "proxier/core/desired_state.h"

namespace kpx {

// kube-proxy's --nodeport-addresses, shared by every mode: a list of CIDRs, or "primary" (the
// node's primary IP per family, from the Node object), matched against the host's interface
// addresses. Per family as kube-proxy's NewNodePortAddresses: a family with no CIDR of its own
// (or no primary IP) accepts NodePorts on every local address. Pure.
struct NodePortAddresses {
  std::vector<Cidr> cidrs;
  bool primary = false;

  // Every local address answers: no CIDR in force for the family, or a /0 among them.
  bool MatchesAll(IpFamily family, const NodeState& node) const;
  // The CIDRs in force for `family`: `primary` becomes the node's first InternalIP of that
  // family as a host CIDR (none when the Node object has none).
  std::vector<Cidr> Effective(IpFamily family, const NodeState& node) const;
  // The host addresses of `family` inside Effective(), sorted; loopback only if
  // `allow_loopback` (iptables' localhost NodePorts on IPv4).
  std::vector<IpAddress> Select(IpFamily family, const std::vector<IpAddress>& host_addresses,
                                const NodeState& node, bool allow_loopback) const;
};

}  // namespace kpx
