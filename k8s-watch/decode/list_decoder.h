#pragma once

#include <rapidjson/document.h>

#include "k8s-watch/decode/decoded_objects.h"

namespace kpx {

// Decodes any document kpx may be handed: a single Service, EndpointSlice or Node; a typed list
// (ServiceList, EndpointSliceList, NodeList, whose items carry no kind); or a generic v1 List
// (kubectl get -o json, whose items carry their own kind). Dispatch is by kind, checked against
// apiVersion (v1 for Service and Node, discovery.k8s.io/v1 for EndpointSlice). Unknown kinds and
// invalid objects become failures; nothing here throws or aborts.
class ListDecoder {
 public:
  static DecodedObjects Decode(const rapidjson::Value& document);
  // Appends to *out, so several documents (a multi-document YAML file) share one result.
  static void DecodeInto(const rapidjson::Value& document, DecodedObjects* out);
};

}  // namespace kpx
