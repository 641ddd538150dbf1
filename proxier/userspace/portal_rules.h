#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxier/netfilter/iptables_runner.h"
#include "proxier/userspace/frontend_spec.h"

namespace kpx {

// kpx's own nat chains for the userspace mode, apart from every other mode's.
inline constexpr std::string_view kPortalsContainerChain = "KPX-PORTALS-CONTAINER";
inline constexpr std::string_view kPortalsHostChain = "KPX-PORTALS-HOST";
// filter-table chain dropping load-balancer traffic from outside loadBalancerSourceRanges: what
// the nat chain did not redirect would otherwise be routed on towards the load balancer.
inline constexpr std::string_view kPortalsFirewallChain = "KPX-PORTALS-FIREWALL";

// A frontend's spec with the listener port the engine chose for it.
struct BoundFrontend {
  const FrontendSpec* spec = nullptr;
  uint16_t listen_port = 0;
};

// Pure: the nat-table restore text (for --noflush) holding every portal of `family`. Declaring
// both chains flushes them, so each restore replaces the whole portal set atomically; frontends
// are visited in the order given and their portals in plan order, so equal inputs give equal text.
// Each portal is "-d IP -p PROTO --dport PORT -j REDIRECT --to-ports LISTEN_PORT" (NodePorts match
// "-m addrtype --dst-type LOCAL" instead of an address), in the container chain, the host chain or
// both. A load-balancer portal with source ranges gets one rule per range ("-s RANGE") and a
// DROP for the rest in the filter chain KPX-PORTALS-FIREWALL (reached from FORWARD).
std::string RenderPortalRules(IpFamily family, const std::vector<BoundFrontend>& frontends);

// The jumps from PREROUTING and OUTPUT into the portal chains, and from FORWARD into the
// firewall chain. Cleanup deletes exactly these.
std::vector<JumpRule> PortalJumpRules();

}  // namespace kpx
