#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "k8s-watch/objects/endpoint_slice.h"
#include "k8s-watch/objects/node.h"
#include "k8s-watch/objects/service.h"
#include "proxier/core/desired_state.h"
#include "proxier/core/endpoint_slice_cache.h"
#include "proxier/core/service_change_tracker.h"

namespace kpx {

// Folds Service, EndpointSlice and Node events into DesiredState snapshots. Recomputes only the
// Services touched since the last snapshot and reuses every other entry. Pure logic, no I/O;
// not thread-safe (the owner serialises calls).
class StateBuilder {
 public:
  // `node_name` decides which endpoints are local; it is fixed for the life of the process, as in
  // kube-proxy, and the Node object only contributes zone and addresses.
  explicit StateBuilder(std::string node_name);

  void UpdateService(const Service& service);
  void DeleteService(const Service& service);
  void UpdateEndpointSlice(const EndpointSlice& old_slice, const EndpointSlice& slice);
  void AddEndpointSlice(const EndpointSlice& slice);
  void DeleteEndpointSlice(const EndpointSlice& slice);
  void UpdateNode(const Node& node);
  void DeleteNode();
  void SetSynced(bool synced) { synced_ = synced; }

  DesiredState Snapshot();

  size_t service_count() const { return services_.size(); }
  size_t endpoint_slice_count() const { return slices_.slice_count(); }

 private:
  void RebuildService(const std::string& key, std::set<ServicePortName>& changed);

  std::string node_name_;
  NodeState node_;
  bool node_dirty_ = false;
  bool synced_ = false;
  uint64_t generation_ = 0;
  ServiceChangeTracker services_;
  EndpointSliceCache slices_;
  ServiceMap current_;
  // Keys of every service present in current_, for finding ports that disappeared.
  std::map<std::string, std::set<ServicePortName>> ports_by_service_;
};

}  // namespace kpx
