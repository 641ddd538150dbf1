#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/keyed_set.h"
#include "base/pooled_string.h"
#include "base/single_inline_vector.h"
#include "base/small_string.h"
#include "k8s-watch/objects/endpoint_slice.h"
#include "proxier/core/endpoint_selection.h"
#include "proxier/core/service_port_info.h"

namespace kpx {

// Holds every EndpointSlice, grouped by the Service it belongs to, and merges a Service's slices
// into the endpoint list of one of its ports. Remembers which Services' slices changed since the
// last TakeDirty(). Not thread-safe.
//
// A slice is not kept as the source delivered it (metadata, labels, every address) but as the
// immutable EndpointInfo entries it yields, built once per slice change. EndpointsFor hands out
// those same entries, so the snapshots share them with the cache instead of holding a copy per
// endpoint per sync: at 10 000 x 10 the slice copies and the per-sync EndpointInfo copies were
// 37 MiB.
class EndpointSliceCache {
 public:
  // Entries are built marked local when on `node_name` (the proxy's node, fixed for the life of
  // the process).
  explicit EndpointSliceCache(std::string node_name = "") : node_name_(std::move(node_name)) {
    slices_.max_load_factor(kKeyedSetLoadFactor);
  }

  void Update(const EndpointSlice& slice);
  void Delete(const EndpointSlice& slice);

  // The endpoints of `port` in `family` across all slices of its Service. An address that appears
  // in several slices (possible while the controller moves endpoints between slices) is listed
  // once, preferring a ready copy.
  EndpointList EndpointsFor(const ServicePortInfo& port, IpFamily family) const;
  std::set<std::string> TakeDirty();
  size_t slice_count() const;

 private:
  struct CachedPort {
    // Pooled: port names ("http", "dns-tcp") repeat across Services and are few.
    PooledString name;  // compared with ServicePortName::port by pointer
    Protocol protocol = Protocol::kTCP;
    // One entry per endpoint that has an address, in one block, sorted by (ip, port) as a
    // service port's lists are: for a port with one slice (the usual case) the snapshot's lists
    // are this block itself, not a list of their own (see EndpointList).
    EndpointList endpoints;
  };
  struct CachedSlice {
    SmallString name;
    IpFamily address_type = IpFamily::kIPv4;
    // Nearly every slice has one port (one per Service port): held inline.
    SingleInlineVector<CachedPort> ports;
  };
  CachedSlice Project(const EndpointSlice& slice) const;

  std::string node_name_;
  // (namespace, Service name) -> its slices, sorted by name. The names are pooled, shared with
  // the ServicePortNames of the Service's ports, and a lookup builds no string and hashes the
  // pooled texts' addresses, not the texts (the table rehashes its nodes as it walks a bucket).
  // Almost every Service has one slice per family with one port, held inline in the Service's one
  // hash node (a 96-byte malloc chunk; the slice's name is a SmallString, whose 16 bytes fewer
  // than a std::string's take the node below 112): a std::map node, a std::vector<CachedSlice>
  // and the slice's std::vector<CachedPort> were three chunks of 192 bytes (issue 15: 8.7 MiB at
  // 100 000 Services), and a map of slices per Service ~150 bytes more.
  using ServiceId = std::pair<PooledString, PooledString>;
  struct ServiceIdHash {
    size_t operator()(const ServiceId& id) const noexcept;
  };
  std::unordered_map<ServiceId, SingleInlineVector<CachedSlice>, ServiceIdHash> slices_;
  std::set<std::string> dirty_;
};

}  // namespace kpx
