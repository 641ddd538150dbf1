#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "k8s-watch/objects/endpoint_slice.h"
#include "proxier/core/endpoint_selection.h"
#include "proxier/core/service_port_info.h"

namespace kpx {

// Holds every EndpointSlice, grouped by the Service it belongs to, and merges a Service's slices
// into the endpoint list of one of its ports. Remembers which Services' slices changed since the
// last TakeDirty(). Not thread-safe.
class EndpointSliceCache {
 public:
  void Update(const EndpointSlice& slice);
  void Delete(const EndpointSlice& slice);

  // The endpoints of `port` in `family` across all slices of its Service. An address that appears
  // in several slices (possible while the controller moves endpoints between slices) is listed
  // once, preferring a ready copy. Endpoints on `node_name` are marked local.
  EndpointList EndpointsFor(const ServicePortInfo& port, IpFamily family,
                            const std::string& node_name) const;
  std::set<std::string> TakeDirty();
  size_t slice_count() const;

 private:
  // service key ("ns/name") -> slice name -> slice
  std::map<std::string, std::map<std::string, EndpointSlice>> slices_;
  std::set<std::string> dirty_;
};

}  // namespace kpx
