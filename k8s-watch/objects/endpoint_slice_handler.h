#pragma once

#include "k8s-watch/objects/endpoint_slice.h"

namespace kpx {

// Receives EndpointSlice events from a source (API watcher or manifest directory). Calls for one
// source come from one thread at a time; implementations shared between sources must lock.
// Update is called only when the slice changed (a change to its labels or annotations alone need
// not count). The old slice of an Update and the slice of a Delete may carry only the identity
// (name, namespace, uid, resourceVersion, service_name, address_type) with no endpoints, ports,
// labels or annotations: a source need not keep every endpoint a second time to name what it
// replaces.
class EndpointSliceHandler {
 public:
  virtual ~EndpointSliceHandler() = default;
  virtual void OnEndpointSliceAdd(const EndpointSlice& slice) = 0;
  virtual void OnEndpointSliceUpdate(const EndpointSlice& old_slice,
                                     const EndpointSlice& slice) = 0;
  virtual void OnEndpointSliceDelete(const EndpointSlice& slice) = 0;
  // The initial listing is complete: every EndpointSlice that existed then has been added.
  virtual void OnEndpointSliceSynced() = 0;
};

}  // namespace kpx
