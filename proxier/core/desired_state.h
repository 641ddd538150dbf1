#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/counted_ptr.h"
#include "base/ip_address.h"
#include "base/persistent_map.h"
#include "proxier/core/endpoint_selection.h"
#include "proxier/core/service_port_info.h"
#include "proxier/core/service_port_name.h"

namespace kpx {

// What kpx knows about the node it runs on.
struct NodeState {
  std::string name;  // --hostname-override or the host name; decides which endpoints are local
  std::string zone;
  std::vector<IpAddress> addresses;  // the Node object's InternalIP and ExternalIP addresses
  std::vector<Cidr> pod_cidrs;
  bool operator==(const NodeState&) const = default;
};

// One service port with its endpoints, per family.
struct ServicePortState {
  ServicePortInfo info;
  std::array<EndpointSelection, 2> endpoints;  // indexed by IpFamily

  const EndpointSelection& For(IpFamily f) const { return endpoints[static_cast<int>(f)]; }
  bool operator==(const ServicePortState&) const = default;
};

// What the state holds per port: shared by consecutive snapshots and by dataplanes' caches.
using ServicePortStatePtr = CountedPtr<ServicePortState>;
using ServiceMap = PersistentMap<ServicePortName, ServicePortStatePtr>;

// An immutable snapshot of everything the proxiers must make the kernel match. Consecutive
// snapshots share their structure (ServiceMap is persistent), so taking or keeping one costs O(1)
// and O(changes) memory, not a copy of every service port; an entry whose pointer is unchanged
// between two snapshots is unchanged.
struct DesiredState {
  uint64_t generation = 0;  // increases with every snapshot taken
  NodeState node;
  ServiceMap services;  // sorted, so renderers that iterate it are deterministic
  // Service ports added, modified or removed since the previous snapshot. A proxier that failed
  // to apply a snapshot must treat the next one as a full change, not trust this set alone.
  std::set<ServicePortName> changed;
  bool node_changed = false;
  // Every source has delivered its initial listing. Until then nothing may be programmed: an empty
  // half-listed state would wipe working rules.
  bool synced = false;

  // A copy with an empty `changed`: what a dataplane keeps of the snapshot it applied, without
  // copying a change set it never reads again (after a full sync one node per port).
  DesiredState WithoutChanges() const {
    DesiredState out;
    out.generation = generation;
    out.node = node;
    out.services = services;
    out.node_changed = node_changed;
    out.synced = synced;
    return out;
  }

  const ServicePortState* Find(const ServicePortName& name) const {
    auto it = services.find(name);
    return it == services.end() ? nullptr : it->second.get();
  }
};

}  // namespace kpx
