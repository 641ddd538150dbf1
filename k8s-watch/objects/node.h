#pragma once

#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "k8s-watch/objects/object_meta.h"

namespace kpx {

struct Node {
  ObjectMeta meta;
  std::vector<IpAddress> internal_ips;  // status.addresses of type InternalIP
  std::vector<IpAddress> external_ips;  // status.addresses of type ExternalIP
  std::vector<Cidr> pod_cidrs;          // spec.podCIDRs

  // Label topology.kubernetes.io/zone, or empty.
  std::string Zone() const {
    auto it = meta.labels.find("topology.kubernetes.io/zone");
    return it == meta.labels.end() ? std::string() : it->second;
  }
  bool operator==(const Node&) const = default;
};

}  // namespace kpx
