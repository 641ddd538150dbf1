#pragma once

#include <rapidjson/document.h>

#include "base/status.h"
#include "k8s-watch/objects/node.h"

namespace kpx {

// Turns a v1 Node into a Node: name, labels, InternalIP/ExternalIP addresses and pod CIDRs.
// Other address types (Hostname, InternalDNS, ...) are ignored; an address of a used type that does
// not parse rejects the object. Errors read "node kpx-node: spec.podCIDRs[0]: ...".
class NodeDecoder {
 public:
  static Result<Node> Decode(const rapidjson::Value& object);
};

inline Result<Node> DecodeNode(const rapidjson::Value& object) {
  return NodeDecoder::Decode(object);
}

}  // namespace kpx
