#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "base/protocol.h"
#include "k8s-watch/objects/object_meta.h"

namespace kpx {

enum class ServiceType { kClusterIP, kNodePort, kLoadBalancer, kExternalName };
enum class TrafficPolicy { kCluster, kLocal };

struct ServicePortSpec {
  std::string name;
  Protocol protocol = Protocol::kTCP;
  int32_t port = 0;
  int32_t node_port = 0;  // 0: none allocated
  bool operator==(const ServicePortSpec&) const = default;
};

// A validated v1 Service reduced to what a node proxy needs. Decoders guarantee: addresses parse,
// ports are in range, port (name, protocol) pairs and (port, protocol) pairs are unique.
struct Service {
  ObjectMeta meta;
  ServiceType type = ServiceType::kClusterIP;
  // spec.clusterIPs, primary first. Empty for headless ("None") and ExternalName services.
  std::vector<IpAddress> cluster_ips;
  bool headless = false;
  std::vector<ServicePortSpec> ports;
  std::vector<IpAddress> external_ips;
  // status.loadBalancer.ingress[].ip, except entries whose ipMode is Proxy (the load balancer
  // delivers to the node, so the node must not short-circuit them).
  std::vector<IpAddress> load_balancer_ingress_ips;
  std::vector<Cidr> load_balancer_source_ranges;
  bool session_affinity_client_ip = false;
  int32_t session_affinity_timeout_seconds = 10800;
  TrafficPolicy external_traffic_policy = TrafficPolicy::kCluster;
  TrafficPolicy internal_traffic_policy = TrafficPolicy::kCluster;
  int32_t health_check_node_port = 0;
  std::string traffic_distribution;  // spec.trafficDistribution, e.g. "PreferClose"

  bool operator==(const Service&) const = default;
};

}  // namespace kpx
