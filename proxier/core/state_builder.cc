#include "proxier/core/state_builder.h"

#include <utility>

namespace kpx {

StateBuilder::StateBuilder(std::string node_name)
    : node_name_(std::move(node_name)), slices_(node_name_) {
  node_.name = node_name_;
}

void StateBuilder::UpdateService(const Service& service) { services_.Update(service); }

void StateBuilder::DeleteService(const Service& service) { services_.Delete(service.meta.Key()); }

void StateBuilder::AddEndpointSlice(const EndpointSlice& slice) { slices_.Update(slice); }

void StateBuilder::UpdateEndpointSlice(const EndpointSlice& old_slice, const EndpointSlice& slice) {
  // The service-name label is mutable in principle; move the slice rather than leave a copy behind.
  if (old_slice.service_name != slice.service_name) slices_.Delete(old_slice);
  slices_.Update(slice);
}

void StateBuilder::DeleteEndpointSlice(const EndpointSlice& slice) { slices_.Delete(slice); }

void StateBuilder::UpdateNode(const Node& node) {
  NodeState next;
  next.name = node_name_;
  next.zone = node.Zone();
  next.addresses = node.internal_ips;
  next.addresses.insert(next.addresses.end(), node.external_ips.begin(), node.external_ips.end());
  next.pod_cidrs = node.pod_cidrs;
  if (next == node_) return;
  node_ = std::move(next);
  node_dirty_ = true;
}

void StateBuilder::DeleteNode() {
  NodeState next;
  next.name = node_name_;
  if (next == node_) return;
  node_ = std::move(next);
  node_dirty_ = true;
}

void StateBuilder::RebuildService(const std::string& key, std::set<ServicePortName>& changed) {
  const NodeTopology topo{node_name_, node_.zone};
  std::set<ServicePortName> now;
  for (const auto& port : services_.PortsOf(key)) {
    now.insert(port.name);
    auto state = std::make_shared<ServicePortState>();
    state->info = port;
    for (IpFamily f : kIpFamilies) {
      state->endpoints[static_cast<int>(f)] =
          SelectEndpoints(port, slices_.EndpointsFor(port, f, node_name_), topo);
    }
    auto it = current_.find(port.name);
    if (it != current_.end() && *it->second == *state) continue;
    current_.insert_or_assign(port.name, std::move(state));
    changed.insert(port.name);
  }
  auto& before = ports_by_service_[key];
  for (const auto& name : before) {
    if (!now.contains(name)) {
      current_.erase(name);
      changed.insert(name);
    }
  }
  if (now.empty()) {
    ports_by_service_.erase(key);
  } else {
    before = std::move(now);
  }
}

DesiredState StateBuilder::Snapshot() {
  DesiredState out;
  std::set<std::string> dirty = services_.TakeDirty();
  dirty.merge(slices_.TakeDirty());
  if (node_dirty_) {
    // The zone feeds topology-aware selection of every service.
    for (const auto& [key, names] : ports_by_service_) dirty.insert(key);
  }
  for (const auto& key : dirty) RebuildService(key, out.changed);
  out.node_changed = std::exchange(node_dirty_, false);
  out.generation = ++generation_;
  out.node = node_;
  out.services = current_;
  out.synced = synced_;
  return out;
}

}  // namespace kpx
