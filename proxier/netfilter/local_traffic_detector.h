#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/cidr.h"
#include "base/protocol.h"

namespace kpx {

// How kpx tells pod traffic from off-node/off-cluster traffic, as kube-proxy's --detect-local-mode.
// Without a working detector kpx cannot short-circuit pod traffic to external IPs and masquerades
// nothing but what --masquerade-all and the external chains ask for.
enum class LocalDetectMode {
  kNone,                 // no detector
  kClusterCidr,          // source inside --cluster-cidr (one CIDR per family)
  kNodeCidr,             // source inside this node's podCIDRs (from the Node object)
  kBridgeInterface,      // arrived on the bridge interface (e.g. cbr0)
  kInterfaceNamePrefix,  // arrived on an interface whose name starts with the prefix (veth+)
};

// kube-proxy's names: ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix.
std::optional<LocalDetectMode> ParseLocalDetectMode(std::string_view name);
// kube-proxy's name of `mode` ("" for kNone, which kube-proxy has no name for).
std::string_view LocalDetectModeName(LocalDetectMode mode);

// kube-proxy's local-traffic detectors as iptables matches, shared by every mode's rules.
struct LocalTrafficDetector {
  std::string if_local;      // e.g. "-s 10.244.0.0/16", "-i cbr0", "-i veth+"
  std::string if_not_local;  // e.g. "! -s 10.244.0.0/16"
  bool implemented() const { return !if_local.empty(); }

  // The detector for one family. CIDR modes use the first CIDR of the family (one per family,
  // as kube-proxy: "! -s a ! -s b" cannot be said in one rule); none of the family, or an empty
  // interface, gives a detector that is not implemented.
  static LocalTrafficDetector For(LocalDetectMode mode, IpFamily family,
                                  const std::vector<Cidr>& cluster_cidrs,
                                  const std::vector<Cidr>& node_pod_cidrs,
                                  const std::string& interface);
};

}  // namespace kpx
