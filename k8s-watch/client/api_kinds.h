#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-watch/decode/decoded_objects.h"
#include "k8s-watch/decode/label_filter.h"
#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/kept_service.h"
#include "k8s-watch/objects/kept_slice.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"

namespace kpx {

// Per-kind glue for TypedReflectorStore: which DecodedObjects vector holds the kind, which
// objects the label filter drops, and which handler methods to call. Kept together because each
// is a handful of one-line forwarders.
//
// What the store keeps of an object (Kept) is what it hands over as the old object of an Update
// and the object of a Delete, and what it compares a new version with (Same); KeyOf is its
// "namespace/name", by which the store finds it.

// Kinds kept whole: the one Node, whose handler reads the old version.
template <typename T>
struct KeptWhole {
  using Kept = T;
  static T Keep(T&& object) { return std::move(object); }
  static bool Same(const T& kept, const T& object) { return kept == object; }
  static const T& Named(const T& kept) { return kept; }
  static std::string KeyOf(const T& kept) { return kept.meta.Key(); }
};

struct ServiceKind {
  using Object = Service;
  // The core holds a Service's ports; the store keeps the identity and a digest (KeptService).
  using Kept = KeptService;
  static KeptService Keep(Service&& service) { return KeptService(service); }
  static bool Same(const KeptService& kept, const Service& s) { return kept.Matches(s); }
  static Service Named(const KeptService& kept) { return kept.identity(); }
  static std::string_view KeyOf(const KeptService& kept) { return kept.Key(); }
  using Handler = ServiceHandler;
  static constexpr char kName[] = "service";
  static constexpr char kListKind[] = "ServiceList";
  // A Service whose new version fails validation is withdrawn, not kept at its last good
  // version: the old one may be less restrictive (source ranges, external IPs) than intended.
  static constexpr bool kKeepLastGood = false;
  static std::vector<Service>& Items(DecodedObjects& d) { return d.services; }
  static bool Skip(const Service& s) { return LabelFilter::SkipService(s); }
  static void Add(Handler* h, const Service& s) { h->OnServiceAdd(s); }
  static void Update(Handler* h, const Service& o, const Service& s) { h->OnServiceUpdate(o, s); }
  static void Delete(Handler* h, const Service& s) { h->OnServiceDelete(s); }
  static void Synced(Handler* h) { h->OnServiceSynced(); }
};

struct EndpointSliceKind {
  using Object = EndpointSlice;
  using Handler = EndpointSliceHandler;
  static constexpr char kName[] = "endpointslice";
  static constexpr char kListKind[] = "EndpointSliceList";
  // Stale endpoints widen nobody's access: the last good version keeps traffic flowing.
  static constexpr bool kKeepLastGood = true;
  // The endpoints live once, in the core; the store keeps the identity and a digest.
  using Kept = KeptSlice;
  static KeptSlice Keep(EndpointSlice&& slice) { return KeptSlice(slice); }
  static bool Same(const KeptSlice& kept, const EndpointSlice& s) { return kept.Matches(s); }
  static EndpointSlice Named(const KeptSlice& kept) { return kept.identity(); }
  static std::string_view KeyOf(const KeptSlice& kept) { return kept.Key(); }
  static std::vector<EndpointSlice>& Items(DecodedObjects& d) { return d.endpoint_slices; }
  static bool Skip(const EndpointSlice& s) { return LabelFilter::SkipEndpointSlice(s); }
  static void Add(Handler* h, const EndpointSlice& s) { h->OnEndpointSliceAdd(s); }
  static void Update(Handler* h, const EndpointSlice& o, const EndpointSlice& s) {
    h->OnEndpointSliceUpdate(o, s);
  }
  static void Delete(Handler* h, const EndpointSlice& s) { h->OnEndpointSliceDelete(s); }
  static void Synced(Handler* h) { h->OnEndpointSliceSynced(); }
};

struct NodeKind : KeptWhole<Node> {
  using Object = Node;
  using Handler = NodeHandler;
  static constexpr char kName[] = "node";
  static constexpr char kListKind[] = "NodeList";
  static constexpr bool kKeepLastGood = true;
  static std::vector<Node>& Items(DecodedObjects& d) { return d.nodes; }
  // The node reflector selects by name on the server; labels do not filter nodes.
  static bool Skip(const Node&) { return false; }
  static void Add(Handler* h, const Node& n) { h->OnNodeAdd(n); }
  static void Update(Handler* h, const Node& o, const Node& n) { h->OnNodeUpdate(o, n); }
  static void Delete(Handler* h, const Node& n) { h->OnNodeDelete(n); }
  static void Synced(Handler* h) { h->OnNodeSynced(); }
};

}  // namespace kpx
