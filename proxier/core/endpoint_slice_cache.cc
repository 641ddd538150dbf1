#include "proxier/core/endpoint_slice_cache.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

namespace kpx {

namespace {

std::string ServiceKeyOf(const EndpointSlice& slice) {
  return slice.meta.namespace_ + "/" + slice.service_name;
}

}  // namespace

size_t EndpointSliceCache::ServiceIdHash::operator()(const ServiceId& id) const noexcept {
  return id.first.Hash() ^ (id.second.Hash() * 0x9e3779b97f4a7c15);
}

void EndpointSliceCache::Update(const EndpointSlice& slice) {
  dirty_.insert(ServiceKeyOf(slice));
  SingleInlineVector<CachedSlice>& slices = slices_[{slice.meta.namespace_, slice.service_name}];
  auto at =
      std::lower_bound(slices.begin(), slices.end(), slice.meta.name,
                       [](const CachedSlice& c, std::string_view name) { return c.name < name; });
  if (at != slices.end() && at->name == slice.meta.name) {
    *at = Project(slice);
  } else {
    slices.Insert(at, Project(slice));
  }
}

EndpointSliceCache::CachedSlice EndpointSliceCache::Project(const EndpointSlice& slice) const {
  CachedSlice out;
  out.name = SmallString(slice.meta.name);
  out.address_type = slice.address_type;
  std::vector<CachedPort> ports;
  ports.reserve(slice.ports.size());
  for (const EndpointSlicePort& p : slice.ports) {
    // Only the first port of a given name and protocol is ever matched.
    bool shadowed = false;
    for (const CachedPort& c : ports) shadowed |= c.name == p.name && c.protocol == p.protocol;
    if (shadowed) continue;
    CachedPort& port = ports.emplace_back();
    port.name = p.name;
    port.protocol = p.protocol;
    std::vector<EndpointInfo> endpoints;
    endpoints.reserve(slice.endpoints.size());
    for (const Endpoint& ep : slice.endpoints) {
      if (ep.addresses.empty()) continue;
      EndpointInfo& info = endpoints.emplace_back();
      info.ip = ep.addresses.front();  // kube-proxy uses only the first
      info.port = static_cast<uint16_t>(p.port);
      info.ready = ep.ready;
      info.serving = ep.serving;
      info.terminating = ep.terminating;
      info.is_local = !node_name_.empty() && ep.node_name == node_name_;
      info.hint_zones = ep.hint_zones;
    }
    // Stable: of two entries for one address (possible, if not valid) the first still wins in
    // EndpointsFor unless a later one is ready.
    std::stable_sort(
        endpoints.begin(), endpoints.end(),
        [](const EndpointInfo& a, const EndpointInfo& b) { return a.Address() < b.Address(); });
    port.endpoints = EndpointList(std::move(endpoints));
  }
  out.ports.Assign(std::move(ports));
  return out;
}

void EndpointSliceCache::Delete(const EndpointSlice& slice) {
  dirty_.insert(ServiceKeyOf(slice));
  auto it = slices_.find({slice.meta.namespace_, slice.service_name});
  if (it == slices_.end()) return;
  it->second.EraseIf([&](const CachedSlice& c) { return c.name == slice.meta.name; });
  if (it->second.empty()) slices_.erase(it);
}

EndpointList EndpointSliceCache::EndpointsFor(const ServicePortInfo& port, IpFamily family) const {
  auto it = slices_.find({port.name.namespace_, port.name.name});
  if (it == slices_.end()) return {};
  std::vector<const EndpointList*> matches;
  for (const CachedSlice& slice : it->second) {
    if (slice.address_type != family) continue;
    for (const CachedPort& p : slice.ports) {
      if (p.name == port.name.port && p.protocol == port.protocol) {
        if (!p.endpoints.empty()) matches.push_back(&p.endpoints);
        break;
      }
    }
  }
  // The usual case: one slice, each address once: its block as it is.
  if (matches.size() == 1) {
    const EndpointList& only = *matches.front();
    bool repeats = false;
    for (size_t i = 1; i < only.size() && !repeats; ++i) {
      repeats = only[i - 1]->Address() == only[i]->Address();
    }
    if (!repeats) return only;
  }
  EndpointList::Builder merged;
  std::map<std::pair<IpAddress, uint16_t>, size_t> seen;
  for (const EndpointList* list : matches) {
    for (const EndpointList::Ref& ep : *list) {
      auto [pos, inserted] = seen.try_emplace({ep->ip, ep->port}, merged.size());
      if (inserted) {
        merged.Add(*list, ep);
      } else if (ep->ready && !merged[pos->second]->ready) {
        merged.Set(pos->second, *list, ep);
      }
    }
  }
  return std::move(merged).Build();
}

std::set<std::string> EndpointSliceCache::TakeDirty() { return std::exchange(dirty_, {}); }

size_t EndpointSliceCache::slice_count() const {
  size_t n = 0;
  for (const auto& [key, slices] : slices_) n += slices.size();
  return n;
}

}  // namespace kpx
