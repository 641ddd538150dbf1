#include "proxier/netfilter/local_traffic_detector.h"

#include "base/enum_names.h"

namespace kpx {
namespace {

using D = LocalDetectMode;
using namespace std::string_view_literals;
// kNone prints as ""; parsing "" never reaches the table: it is kube-proxy's default, ClusterCIDR.
constexpr EnumNames kNames(std::array{
    std::pair{D::kNone, ""sv}, std::pair{D::kClusterCidr, "ClusterCIDR"sv},
    std::pair{D::kNodeCidr, "NodeCIDR"sv}, std::pair{D::kBridgeInterface, "BridgeInterface"sv},
    std::pair{D::kInterfaceNamePrefix, "InterfaceNamePrefix"sv}});

}  // namespace

std::optional<LocalDetectMode> ParseLocalDetectMode(std::string_view name) {
  if (name.empty()) return LocalDetectMode::kClusterCidr;
  return kNames.Parse(name);
}

std::string_view LocalDetectModeName(LocalDetectMode mode) { return kNames.Name(mode, ""); }

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
