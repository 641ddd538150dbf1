#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

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

  size_t endpoint_slice_count() const { return slices_.slice_count(); }

 private:
  using PortStates = std::vector<std::pair<ServicePortName, ServicePortStatePtr>>;
  // Recomputes the ports of Service `key` ("ns/name"): `touched` holds its ports when the Service
  // itself changed, else the ports are those current_ already has (only its slices or the node
  // changed). `fresh`: current_ held nothing when the snapshot began, so it holds none of the
  // Service's ports.
  void RebuildService(const std::string& key, const std::vector<ServicePortInfo>* touched,
                      std::vector<ServicePortName>& changed, bool fresh);
  // The entries of current_ that belong to Service `key`: ServicePortName sorts by namespace and
  // name first, so they are one contiguous range.
  PortStates PortsOf(const std::string& key) const;

  std::string node_name_;
  NodeState node_;
  bool node_dirty_ = false;
  bool synced_ = false;
  uint64_t generation_ = 0;
  ServiceChangeTracker services_;
  EndpointSliceCache slices_;
  ServiceMap current_;
};

}  // namespace kpx
