#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxier/core/endpoint_info.h"
#include "proxier/core/endpoint_list.h"
#include "proxier/core/service_port_info.h"

namespace kpx {

// The endpoints of one service port in one IP family, sorted by (ip, port), and the subsets the
// traffic policies use. Mirrors kube-proxy's CategorizeEndpoints. A subset equal to a list it was
// drawn from shares that list's array (see EndpointList).
struct EndpointSelection {
  EndpointList all;  // every endpoint, whatever its condition
  EndpointList
      cluster;         // for Cluster policies: ready (topology-filtered), else serving+terminating
  EndpointList local;  // for Local policies: ready local, else serving+terminating local
  EndpointList all_reachable;      // union of the sets the service uses; what IPVS programs
  bool has_any_endpoints = false;  // some usable endpoint exists anywhere (else: REJECT)

  bool operator==(const EndpointSelection& o) const;
};

// Node facts the policy needs.
struct NodeTopology {
  std::string name;
  std::string zone;  // topology.kubernetes.io/zone of this node, may be empty
};

// Pure: applies kube-proxy's endpoint selection rules to `endpoints` (one family, any order).
EndpointSelection SelectEndpoints(const ServicePortInfo& service, const EndpointList& endpoints,
                                  const NodeTopology& node);

}  // namespace kpx
