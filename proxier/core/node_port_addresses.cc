#include "proxier/core/node_port_addresses.h"

#include <algorithm>

namespace kpx {

bool NodePortAddresses::MatchesAll(IpFamily family, const NodeState& node) const {
  const std::vector<Cidr> in_force = Effective(family, node);
  return in_force.empty() || std::any_of(in_force.begin(), in_force.end(),
                                         [](const Cidr& c) { return c.prefix_length() == 0; });
}

std::vector<Cidr> NodePortAddresses::Effective(IpFamily family, const NodeState& node) const {
  std::vector<Cidr> out;
  if (primary) {
    for (const IpAddress& ip : node.addresses) {
      if (ip.family() == family && !ip.IsLoopback()) {
        out.push_back(Cidr::Host(ip));
        break;
      }
    }
    return out;
  }
  for (const Cidr& c : cidrs) {
    if (c.family() == family) out.push_back(c);
  }
  return out;
}

std::vector<IpAddress> NodePortAddresses::Select(IpFamily family,
                                                 const std::vector<IpAddress>& host_addresses,
                                                 const NodeState& node, bool allow_loopback) const {
  const std::vector<Cidr> in_force = Effective(family, node);
  std::vector<IpAddress> out;
  for (const IpAddress& ip : host_addresses) {
    if (ip.family() != family || (ip.IsLoopback() && !allow_loopback)) continue;
    if (std::any_of(in_force.begin(), in_force.end(),
                    [&ip](const Cidr& c) { return c.Contains(ip); })) {
      out.push_back(ip);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace kpx
