#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/compact_vector.h"
#include "base/ip_address.h"
#include "base/pooled_string.h"
#include "k8s-watch/objects/service.h"
#include "proxier/core/service_port_name.h"

namespace kpx {

// Everything a proxier needs to know about one service port, both families together.
struct ServicePortInfo {
  // Ordered by alignment, so that one per service port (100 000 at scale) carries no padding.
  ServicePortName name;
  // Empty on nearly every port: one pointer each rather than a std::vector's three.
  CompactVector<IpAddress> external_ips;
  CompactVector<IpAddress> load_balancer_ips;
  CompactVector<Cidr> load_balancer_source_ranges;
  PooledString traffic_distribution;  // a handful of values cluster-wide
  int32_t port = 0;
  int32_t node_port = 0;
  int32_t session_affinity_timeout_seconds = 10800;
  int32_t health_check_node_port = 0;
  TrafficPolicy external_policy = TrafficPolicy::kCluster;
  TrafficPolicy internal_policy = TrafficPolicy::kCluster;
  std::array<std::optional<IpAddress>, 2> cluster_ip;  // indexed by IpFamily
  Protocol protocol = Protocol::kTCP;
  bool session_affinity_client_ip = false;

  const std::optional<IpAddress>& ClusterIp(IpFamily f) const {
    return cluster_ip[static_cast<int>(f)];
  }
  // Reachable from outside the cluster: a NodePort, an external IP or a load-balancer IP.
  bool ExternallyAccessible() const {
    return node_port != 0 || !external_ips.empty() || !load_balancer_ips.empty();
  }
  bool ExternalPolicyLocal() const {
    return ExternallyAccessible() && external_policy == TrafficPolicy::kLocal;
  }
  bool InternalPolicyLocal() const { return internal_policy == TrafficPolicy::kLocal; }
  // Which endpoint sets this port's rules consult; mirrors kube-proxy's ServicePort methods.
  // An externally reachable port needs the cluster set even with externalTrafficPolicy Local:
  // traffic from pods and the node itself to its external addresses is short-circuited to all
  // endpoints rather than dropped on nodes without a local one.
  bool UsesClusterEndpoints() const { return !InternalPolicyLocal() || ExternallyAccessible(); }
  bool UsesLocalEndpoints() const { return InternalPolicyLocal() || ExternalPolicyLocal(); }

  bool operator==(const ServicePortInfo&) const = default;
};
static_assert(sizeof(void*) != 8 || sizeof(ServicePortInfo) == 128);

// The items of `in` (addresses or CIDRs) of one family.
template <typename Container>
std::vector<typename Container::value_type> OfFamily(const Container& in, IpFamily family) {
  std::vector<typename Container::value_type> out;
  for (const auto& x : in) {
    if (x.family() == family) out.push_back(x);
  }
  return out;
}

// Splits a Service into its ports. Returns nothing for the services kube-proxy ignores: headless,
// ExternalName, and those labelled service.kubernetes.io/service-proxy-name.
std::vector<ServicePortInfo> ServicePortsOf(const Service& service);

// True when kube-proxy would not program this service at all (see ServicePortsOf).
bool IsIgnoredService(const Service& service);

}  // namespace kpx
