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
  slices_[key][slice.meta.name] = slice;
}

void EndpointSliceCache::Delete(const EndpointSlice& slice) {
  const std::string key = ServiceKeyOf(slice);
  dirty_.insert(key);
  auto it = slices_.find(key);
  if (it == slices_.end()) return;
  it->second.erase(slice.meta.name);
  if (it->second.empty()) slices_.erase(it);
}

EndpointList EndpointSliceCache::EndpointsFor(const ServicePortInfo& port, IpFamily family,
                                              const std::string& node_name) const {
  EndpointList out;
  auto it = slices_.find(port.name.ServiceKey());
  if (it == slices_.end()) return out;
  std::map<std::pair<IpAddress, int32_t>, size_t> seen;
  for (const auto& [slice_name, slice] : it->second) {
    if (slice.address_type != family) continue;
    const EndpointSlicePort* match = nullptr;
    for (const auto& p : slice.ports) {
      if (p.name == port.name.port && p.protocol == port.protocol) {
        match = &p;
        break;
      }
    }
    if (match == nullptr) continue;
    for (const auto& ep : slice.endpoints) {
      if (ep.addresses.empty()) continue;
      auto info = std::make_shared<EndpointInfo>();
      info->ip = ep.addresses.front();
      info->port = match->port;
      info->ready = ep.ready;
      info->serving = ep.serving;
      info->terminating = ep.terminating;
      info->node_name = ep.node_name;
      info->is_local = !node_name.empty() && ep.node_name == node_name;
      info->zone = ep.zone;
      info->hint_zones = ep.hint_zones;
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
