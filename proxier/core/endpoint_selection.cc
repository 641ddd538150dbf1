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

bool EndpointSelection::operator==(const EndpointSelection& o) const {
  return has_any_endpoints == o.has_any_endpoints && SameEndpoints(all, o.all) &&
         SameEndpoints(cluster, o.cluster) && SameEndpoints(local, o.local) &&
         SameEndpoints(all_reachable, o.all_reachable);
}

EndpointSelection SelectEndpoints(const ServicePortInfo& service, const EndpointList& endpoints,
                                  const NodeTopology& node) {
  EndpointSelection sel;
  sel.all = endpoints.SortedByAddress();

  if (service.UsesClusterEndpoints()) {
    const bool topology = CanUseTopology(sel.all, node);
    sel.cluster = sel.all.Filter([&](const EndpointInfo& ep) {
      if (!ep.ready) return false;
      if (!topology) return true;
      return ep.hint_zones.Contains(node.zone);
    });
    // With nothing ready anywhere, terminating endpoints that still serve are better than
    // refusing connections during a rolling update.
    if (sel.cluster.empty()) sel.cluster = sel.all.Filter(ServingTerminating);
    sel.has_any_endpoints = !sel.cluster.empty();
  }

  if (!service.UsesLocalEndpoints()) {
    sel.all_reachable = sel.cluster;
    return sel;
  }

  bool local_ready = false;
  bool local_serving_terminating = false;
  for (const auto& ep : sel.all) {
    if (ep->ready) {
      sel.has_any_endpoints = true;
      local_ready = local_ready || ep->is_local;
    } else if (ServingTerminating(*ep)) {
      sel.has_any_endpoints = true;
      local_serving_terminating = local_serving_terminating || ep->is_local;
    }
  }
  if (local_ready) {
    sel.local = sel.all.Filter([](const EndpointInfo& ep) { return ep.ready && ep.is_local; });
  } else if (local_serving_terminating) {
    sel.local = sel.all.Filter(
        [](const EndpointInfo& ep) { return ServingTerminating(ep) && ep.is_local; });
  }

  if (!service.UsesClusterEndpoints()) {
    sel.all_reachable = sel.local;
    return sel;
  }
  // Both policies in use: the union, kept in the order of `all`.
  std::unordered_set<uintptr_t> used;
  for (const EndpointList::Ref& ep : sel.cluster) used.insert(ep.slot());
  for (const EndpointList::Ref& ep : sel.local) used.insert(ep.slot());
  sel.all_reachable =
      sel.all.Filter([&](const EndpointList::Ref& ep) { return used.contains(ep.slot()); });
  // The union holds both subsets in the order of `all`: equal in size means equal to one of them.
  if (sel.all_reachable.size() == sel.cluster.size()) {
    sel.all_reachable = sel.cluster;
  } else if (sel.all_reachable.size() == sel.local.size()) {
    sel.all_reachable = sel.local;
  }
  return sel;
}

}  // namespace kpx
