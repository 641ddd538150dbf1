#pragma once

#include <rapidjson/document.h>

#include "base/status.h"
#include "k8s-watch/objects/endpoint_slice.h"

namespace kpx {

// Turns a discovery.k8s.io/v1 EndpointSlice into a validated EndpointSlice. IPv4 and IPv6 slices
// only: an FQDN slice is refused with a "not supported" reason (IsUnsupported tells the caller to
// count it as skipped rather than invalid). Errors read
// "endpointslice default/web-x2c4v: endpoints[0].addresses[0]: ...".
class EndpointSliceDecoder {
 public:
  static Result<EndpointSlice> Decode(const rapidjson::Value& object);
  // True for slices kpx deliberately ignores (addressType FQDN), which Decode refuses.
  static bool IsUnsupported(const rapidjson::Value& object);
};

inline Result<EndpointSlice> DecodeEndpointSlice(const rapidjson::Value& object) {
  return EndpointSliceDecoder::Decode(object);
}

}  // namespace kpx
