#include "proxier/core/endpoint_slice_cache.h"

#include <memory>
#include <tuple>
#include <utility>

namespace kpx {

namespace {

std::string ServiceKeyOf(const EndpointSlice& slice) {
  return slice.meta.namespace_ + "/" + slice.service_name;
}

}  // namespace

void EndpointSliceCache::Update(const EndpointSlice& slice) {
  const std::string key = ServiceKeyOf(slice);
  dirty_.insert(key);
  slices_[key][slice.meta.name] = Project(slice);
}

EndpointSliceCache::CachedSlice EndpointSliceCache::Project(const EndpointSlice& slice) const {
  CachedSlice out;
  out.address_type = slice.address_type;
  out.ports.reserve(slice.ports.size());
  for (const EndpointSlicePort& p : slice.ports) {
    // Only the first port of a given name and protocol is ever matched.
    bool shadowed = false;
    for (const CachedPort& c : out.ports) shadowed |= c.name == p.name && c.protocol == p.protocol;
    if (shadowed) continue;
    CachedPort& port = out.ports.emplace_back();
    port.name = p.name;
    port.protocol = p.protocol;
    std::vector<EndpointInfo> endpoints;
    endpoints.reserve(slice.endpoints.size());
    for (const Endpoint& ep : slice.endpoints) {
      if (ep.addresses.empty()) continue;
      EndpointInfo& info = endpoints.emplace_back();
      info.ip = ep.addresses.front();  // kube-proxy uses only the first
      info.port = p.port;
      info.ready = ep.ready;
      info.serving = ep.serving;
      info.terminating = ep.terminating;
      info.node_name = ep.node_name;
      info.is_local = !node_name_.empty() && ep.node_name == node_name_;
      info.zone = ep.zone;
      info.hint_zones = ep.hint_zones;
    }
    endpoints.shrink_to_fit();
    port.endpoints = std::make_shared<const std::vector<EndpointInfo>>(std::move(endpoints));
  }
  return out;
}

void EndpointSliceCache::Delete(const EndpointSlice& slice) {
  const std::string key = ServiceKeyOf(slice);
  dirty_.insert(key);
  auto it = slices_.find(key);
  if (it == slices_.end()) return;
  it->second.erase(slice.meta.name);
  if (it->second.empty()) slices_.erase(it);
}

EndpointVector EndpointSliceCache::EndpointsFor(const ServicePortInfo& port, IpFamily family,
                                                const std::string& node_name) const {
  EndpointVector out;
  auto it = slices_.find(port.name.ServiceKey());
  if (it == slices_.end()) return out;
  std::map<std::pair<IpAddress, int32_t>, size_t> seen;
  for (const auto& [slice_name, slice] : it->second) {
    if (slice.address_type != family) continue;
    const CachedPort* match = nullptr;
    for (const CachedPort& p : slice.ports) {
      if (p.name == port.name.port && p.protocol == port.protocol) {
        match = &p;
        break;
      }
    }
    if (match == nullptr) continue;
    for (const EndpointInfo& cached : *match->endpoints) {
      // Shares ownership of the slice port's array, pointing at one element of it.
      std::shared_ptr<const EndpointInfo> info(match->endpoints, &cached);
      const bool local = !node_name.empty() && cached.node_name == node_name;
      if (local != cached.is_local) {
        auto copy = std::make_shared<EndpointInfo>(cached);
        copy->is_local = local;
        info = std::move(copy);
      }
      auto [pos, inserted] = seen.try_emplace({info->ip, info->port}, out.size());
      if (inserted) {
        out.push_back(std::move(info));
      } else if (info->ready && !out[pos->second]->ready) {
        out[pos->second] = std::move(info);
      }
    }
  }
  return out;
}

std::set<std::string> EndpointSliceCache::TakeDirty() { return std::exchange(dirty_, {}); }

size_t EndpointSliceCache::slice_count() const {
  size_t n = 0;
  for (const auto& [key, slices] : slices_) n += slices.size();
  return n;
}

}  // namespace kpx
