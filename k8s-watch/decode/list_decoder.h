#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

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
  // One element of the items of a list of `list_kind` (e.g. "ServiceList", or "List") and
  // `api_version`, at `index`: appends to *out what Decode would for it inside the whole list.
  // For lists that arrive one item at a time (ListItemSplitter).
  static void DecodeListItem(std::string_view list_kind, std::string_view api_version,
                             const rapidjson::Value& item, size_t index, DecodedObjects* out);
};

}  // namespace kpx
