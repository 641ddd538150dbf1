#pragma once

#include <vector>

#include "k8s-watch/decode/decode_failure.h"
#include "k8s-watch/objects/endpoint_slice.h"
#include "k8s-watch/objects/node.h"
#include "k8s-watch/objects/service.h"

namespace kpx {

// What a ListDecoder found in a document, in document order. One bad object becomes one entry in
// `failures` and never hides the good objects next to it.
struct DecodedObjects {
  std::vector<Service> services;
  std::vector<EndpointSlice> endpoint_slices;
  std::vector<Node> nodes;
  std::vector<DecodeFailure> failures;
};

}  // namespace kpx
