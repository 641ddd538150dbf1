#include "proxier/core/service_port_info.h"

namespace kpx {

bool IsIgnoredService(const Service& service) {
  return service.headless || service.type == ServiceType::kExternalName ||
         service.cluster_ips.empty() ||
         service.meta.labels.contains("service.kubernetes.io/service-proxy-name");
}

std::vector<ServicePortInfo> ServicePortsOf(const Service& service) {
  std::vector<ServicePortInfo> out;
  if (IsIgnoredService(service)) return out;
  out.reserve(service.ports.size());
  for (const auto& p : service.ports) {
    ServicePortInfo info;
    info.name = {service.meta.namespace_, service.meta.name, p.name, p.protocol};
    // Only the first cluster IP of each family counts; the API never assigns two of one family.
    for (const auto& ip : service.cluster_ips) {
      auto& slot = info.cluster_ip[static_cast<int>(ip.family())];
      if (!slot) slot = ip;
    }
    info.port = p.port;
    info.protocol = p.protocol;
    // A NodePort on a ClusterIP service is a leftover from a type change; kube-proxy ignores it.
    if (service.type == ServiceType::kNodePort || service.type == ServiceType::kLoadBalancer) {
      info.node_port = p.node_port;
    }
    info.external_ips = service.external_ips;
    if (service.type == ServiceType::kLoadBalancer) {
      info.load_balancer_ips = service.load_balancer_ingress_ips;
      info.load_balancer_source_ranges = service.load_balancer_source_ranges;
      info.health_check_node_port = service.health_check_node_port;
    }
    info.session_affinity_client_ip = service.session_affinity_client_ip;
    info.session_affinity_timeout_seconds = service.session_affinity_timeout_seconds;
    const bool external_type =
        service.type == ServiceType::kNodePort || service.type == ServiceType::kLoadBalancer;
    info.external_policy =
        external_type ? service.external_traffic_policy : TrafficPolicy::kCluster;
    info.internal_policy = service.internal_traffic_policy;
    info.traffic_distribution = service.traffic_distribution;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace kpx
