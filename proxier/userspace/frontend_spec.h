#pragma once

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/cidr.h"

#include "base/ip_address.h"
#include "proxier/core/desired_state.h"
#include "proxier/core/service_port_name.h"
#include "proxier/userspace/backend.h"

namespace kpx {

// Which endpoint set a listener serves. A service port needs a second listener only when its
// external traffic policy picks a different set than its internal one.
enum class FrontendRole { kInternal, kExternal };

// Identifies one listener group: a service port and the role it plays.
struct FrontendKey {
  ServicePortName service;
  FrontendRole role = FrontendRole::kInternal;

  // "ns/name:port" for the internal role, "ns/name:port (external)" otherwise.
  std::string ToString() const;
  auto operator<=>(const FrontendKey&) const = default;
};

// One address:port the kernel redirects to a frontend's listener.
struct PortalDestination {
  IpFamily family = IpFamily::kIPv4;
  std::optional<IpAddress> ip;  // none: every local address (a NodePort)
  int32_t port = 0;
  bool container = false;  // from other hosts and pods (nat PREROUTING)
  bool host = false;       // from the node itself (nat OUTPUT)
  std::string kind;        // "cluster IP", "node port", "external IP", "load balancer IP"
  // loadBalancerSourceRanges, for load-balancer IPs reached from other hosts (`restricted`): only
  // these sources (this family's) are redirected, everything else to this destination is
  // dropped; with ranges only in the other family, nobody is redirected.
  bool restricted = false;
  std::vector<Cidr> source_ranges;
  bool operator==(const PortalDestination&) const = default;
};

// What one listener group must do: pure data derived from the DesiredState.
struct FrontendSpec {
  FrontendKey key;
  Protocol protocol = Protocol::kTCP;
  std::array<std::vector<Backend>, 2> backends;  // by IpFamily, in selection order
  bool affinity_client_ip = false;
  std::chrono::seconds affinity_timeout{10800};
  std::vector<PortalDestination> portals;

  const std::vector<Backend>& BackendsFor(IpFamily f) const {
    return backends[static_cast<int>(f)];
  }
  bool operator==(const FrontendSpec&) const = default;
};

struct FrontendPlan {
  std::map<FrontendKey, FrontendSpec> frontends;
  std::vector<ServicePortName> skipped_sctp;  // the userspace proxy relays TCP and UDP only
};

// Pure: the listener groups and portals for `state`, in `families`.
//  - ClusterIPs go to the internal frontend from both chains; its endpoints follow the internal
//    traffic policy (local set for Local, cluster set otherwise).
//  - NodePorts, externalIPs and load-balancer IPs from other hosts and pods go to the external
//    frontend, whose endpoints follow the external policy. It exists only when that picks a
//    different set than the internal policy; otherwise the internal frontend serves both.
//  - The same external destinations reached from the node itself use the cluster set, as
//    kube-proxy short-circuits them, whichever frontend holds it (the internal one when both
//    policies are Local: there is no listener with the cluster set then).
FrontendPlan PlanFrontends(const DesiredState& state, const std::vector<IpFamily>& families);

// One service port's part of PlanFrontends, added to `plan` (its frontends are keyed by `name`).
void PlanServicePortFrontends(const ServicePortName& name, const ServicePortState& state,
                              const std::vector<IpFamily>& families, FrontendPlan& plan);

}  // namespace kpx
