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

StateBuilder::PortStates StateBuilder::PortsOf(const std::string& key) const {
  PortStates out;
  const size_t slash = key.find('/');
  if (slash == std::string::npos) return out;
  const std::string_view ns(key.data(), slash);
  const std::string_view name(key.data() + slash + 1, key.size() - slash - 1);
  // The smallest port name of the Service: an empty port name with the first protocol.
  const ServicePortName first{std::string(ns), std::string(name), "", Protocol::kTCP};
  for (auto it = current_.lower_bound(first);
       it != current_.end() && it->first.namespace_ == ns && it->first.name == name; ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

void StateBuilder::RebuildService(const std::string& key,
                                  const std::vector<ServicePortInfo>* touched,
                                  std::vector<ServicePortName>& changed, bool fresh) {
  const NodeTopology topo{node_name_, node_.zone};
  // Held until the end: `ports` may point into these states while current_ replaces them.
  const PortStates before = fresh ? PortStates() : PortsOf(key);
  std::vector<const ServicePortInfo*> ports;
  if (touched != nullptr) {
    for (const auto& port : *touched) ports.push_back(&port);
  } else {
    for (const auto& [name, state] : before) ports.push_back(&state->info);
  }
  std::set<ServicePortName> now;
  for (const ServicePortInfo* port : ports) {
    now.insert(port->name);
    // Built in place and compared before it is allocated: an unchanged port (most of a
    // Service's when one changed) costs no allocation.
    ServicePortState state;
    state.info = *port;
    for (IpFamily f : kIpFamilies) {
      state.endpoints[static_cast<int>(f)] =
          SelectEndpoints(*port, slices_.EndpointsFor(*port, f), topo);
    }
    if (!fresh) {
      auto it = current_.find(port->name);
      if (it != current_.end() && *it->second == state) continue;
    }
    current_.insert_or_assign(port->name, ServicePortStatePtr::Make(std::move(state)));
    changed.push_back(port->name);
  }
  for (const auto& [name, state] : before) {
    if (!now.contains(name)) {
      current_.erase(name);
      changed.push_back(name);
    }
  }
}

DesiredState StateBuilder::Snapshot() {
  DesiredState out;
  std::map<std::string, std::vector<ServicePortInfo>> touched = services_.Take();
  std::set<std::string> dirty = slices_.TakeDirty();
  for (const auto& [key, ports] : touched) dirty.insert(key);
  if (node_dirty_) {
    // The zone feeds topology-aware selection of every service.
    for (const auto& [name, state] : current_) dirty.insert(name.ServiceKey());
  }
  // Gathered in one block and made a set once the states are built: a set filled meanwhile put
  // its nodes between the states, and left holes there when the sync dropped it.
  std::vector<ServicePortName> changed;
  // Nothing built yet (the first snapshot): no Service has ports to look up, and each key's
  // rebuild adds only its own. Looking them up anyway was a fifth of a first snapshot at 10 000
  // Services (a descent of the growing map, and two strings made, per Service).
  const bool fresh = current_.empty();
  while (!dirty.empty()) {
    // Each key and each Service's pending ports are freed as soon as used, so that the states
    // and map nodes built next take their place in the heap: freed only at the end, they left
    // holes between the states that stay (10 MB of heap at 100 000 Services).
    const auto key = dirty.extract(dirty.begin());
    auto t = touched.find(key.value());
    RebuildService(key.value(), t == touched.end() ? nullptr : &t->second, changed, fresh);
    if (t != touched.end()) touched.erase(t);
  }
  out.changed.insert(changed.begin(), changed.end());
  out.node_changed = std::exchange(node_dirty_, false);
  out.generation = ++generation_;
  out.node = node_;
  out.services = current_;
  out.synced = synced_;
  return out;
}

}  // namespace kpx
