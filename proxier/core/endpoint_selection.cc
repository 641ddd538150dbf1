#include "proxier/core/endpoint_selection.h"

#include <algorithm>
#include <tuple>
#include <unordered_set>

namespace kpx {

namespace {

bool SameEndpoints(const EndpointList& a, const EndpointList& b) {
  if (a.SharesWith(b)) return true;
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const EndpointList::Ref& x, const EndpointList::Ref& y) {
                      return x.SameEntry(y) || *x == *y;
                    });
}

bool ServingTerminating(const EndpointInfo& ep) { return ep.serving && ep.terminating; }

// Zone hints are honoured only when every ready endpoint carries them and at least one is meant
// for this node's zone; anything less would black-hole the zone, so kube-proxy ignores hints then.
bool CanUseTopology(const EndpointList& endpoints, const NodeTopology& node) {
  if (node.zone.empty()) return false;
  bool has_endpoint_for_zone = false;
  for (const auto& ep : endpoints) {
    if (!ep->ready) continue;
    if (ep->hint_zones.empty()) return false;
    if (ep->hint_zones.Contains(node.zone)) {
      has_endpoint_for_zone = true;
    }
  }
  return has_endpoint_for_zone;
}

}  // namespace

EndpointSelection::EndpointSelection(EndpointList all, EndpointList cluster, EndpointList local,
                                     EndpointList all_reachable, bool has_any_endpoints)
    : all_(std::move(all)), rest_(has_any_endpoints ? kHasAny : 0) {
  const bool usual = cluster.SharesWith(all_) && local.empty() && all_reachable.SharesWith(all_);
  if (usual) return;
  auto* subsets = new Subsets_{std::move(cluster), std::move(local), std::move(all_reachable)};
  static_assert(alignof(Subsets_) > kHasAny);
  rest_ |= reinterpret_cast<uintptr_t>(subsets);
}

EndpointSelection::EndpointSelection(const EndpointSelection& o)
    : all_(o.all_), rest_(o.rest_ & kHasAny) {
  if (o.Subsets() != nullptr) rest_ |= reinterpret_cast<uintptr_t>(new Subsets_(*o.Subsets()));
}

EndpointSelection::~EndpointSelection() { delete Subsets(); }

const EndpointList& EndpointSelection::local() const {
  static const EndpointList kEmpty;
  return Subsets() ? Subsets()->local : kEmpty;
}

bool EndpointSelection::operator==(const EndpointSelection& o) const {
  return has_any_endpoints() == o.has_any_endpoints() && SameEndpoints(all(), o.all()) &&
         SameEndpoints(cluster(), o.cluster()) && SameEndpoints(local(), o.local()) &&
         SameEndpoints(all_reachable(), o.all_reachable());
}

EndpointSelection SelectEndpoints(const ServicePortInfo& service, const EndpointList& endpoints,
                                  const NodeTopology& node) {
  EndpointList all = endpoints.SortedByAddress();
  EndpointList cluster;
  EndpointList local;
  bool has_any = false;

  if (service.UsesClusterEndpoints()) {
    const bool topology = CanUseTopology(all, node);
    cluster = all.Filter([&](const EndpointInfo& ep) {
      if (!ep.ready) return false;
      if (!topology) return true;
      return ep.hint_zones.Contains(node.zone);
    });
    // With nothing ready anywhere, terminating endpoints that still serve are better than
    // refusing connections during a rolling update.
    if (cluster.empty()) cluster = all.Filter(ServingTerminating);
    has_any = !cluster.empty();
  }

  if (!service.UsesLocalEndpoints()) {
    EndpointList reachable = cluster;
    return {std::move(all), std::move(cluster), {}, std::move(reachable), has_any};
  }

  bool local_ready = false;
  bool local_serving_terminating = false;
  for (const auto& ep : all) {
    if (ep->ready) {
      has_any = true;
      local_ready = local_ready || ep->is_local;
    } else if (ServingTerminating(*ep)) {
      has_any = true;
      local_serving_terminating = local_serving_terminating || ep->is_local;
    }
  }
  if (local_ready) {
    local = all.Filter([](const EndpointInfo& ep) { return ep.ready && ep.is_local; });
  } else if (local_serving_terminating) {
    local =
        all.Filter([](const EndpointInfo& ep) { return ServingTerminating(ep) && ep.is_local; });
  }

  if (!service.UsesClusterEndpoints()) {
    EndpointList reachable = local;
    return {std::move(all), std::move(cluster), std::move(local), std::move(reachable), has_any};
  }
  // Both policies in use: the union, kept in the order of `all`.
  std::unordered_set<uintptr_t> used;
  for (const EndpointList::Ref& ep : cluster) used.insert(ep.slot());
  for (const EndpointList::Ref& ep : local) used.insert(ep.slot());
  EndpointList reachable =
      all.Filter([&](const EndpointList::Ref& ep) { return used.contains(ep.slot()); });
  // The union holds both subsets in the order of `all`: equal in size means equal to one of them.
  if (reachable.size() == cluster.size()) {
    reachable = cluster;
  } else if (reachable.size() == local.size()) {
    reachable = local;
  }
  return {std::move(all), std::move(cluster), std::move(local), std::move(reachable), has_any};
}

}  // namespace kpx
