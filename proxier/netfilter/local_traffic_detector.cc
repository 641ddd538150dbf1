#include "proxier/netfilter/local_traffic_detector.h"

namespace kpx {

std::optional<LocalDetectMode> ParseLocalDetectMode(std::string_view name) {
  if (name == "ClusterCIDR" || name.empty()) return LocalDetectMode::kClusterCidr;
  if (name == "NodeCIDR") return LocalDetectMode::kNodeCidr;
  if (name == "BridgeInterface") return LocalDetectMode::kBridgeInterface;
  if (name == "InterfaceNamePrefix") return LocalDetectMode::kInterfaceNamePrefix;
  return std::nullopt;
}

std::string_view LocalDetectModeName(LocalDetectMode mode) {
  switch (mode) {
    case LocalDetectMode::kNone:
      return "";
    case LocalDetectMode::kClusterCidr:
      return "ClusterCIDR";
    case LocalDetectMode::kNodeCidr:
      return "NodeCIDR";
    case LocalDetectMode::kBridgeInterface:
      return "BridgeInterface";
    case LocalDetectMode::kInterfaceNamePrefix:
      return "InterfaceNamePrefix";
  }
  return "";
}

LocalTrafficDetector LocalTrafficDetector::For(LocalDetectMode mode, IpFamily family,
                                               const std::vector<Cidr>& cluster_cidrs,
                                               const std::vector<Cidr>& node_pod_cidrs,
                                               const std::string& interface) {
  LocalTrafficDetector d;
  auto from_cidrs = [&](const std::vector<Cidr>& cidrs) {
    for (const auto& c : cidrs) {
      if (c.family() != family) continue;
      d.if_local = "-s " + c.ToString();
      d.if_not_local = "! -s " + c.ToString();
      return;
    }
  };
  switch (mode) {
    case LocalDetectMode::kNone:
      break;
    case LocalDetectMode::kClusterCidr:
      from_cidrs(cluster_cidrs);
      break;
    case LocalDetectMode::kNodeCidr:
      from_cidrs(node_pod_cidrs);
      break;
    case LocalDetectMode::kBridgeInterface:
      if (!interface.empty()) {
        d.if_local = "-i " + interface;
        d.if_not_local = "! -i " + interface;
      }
      break;
    case LocalDetectMode::kInterfaceNamePrefix:
      if (!interface.empty()) {
        d.if_local = "-i " + interface + "+";
        d.if_not_local = "! -i " + interface + "+";
      }
      break;
  }
  return d;
}

}  // namespace kpx
