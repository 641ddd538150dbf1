#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "base/status.h"
#include "k8s-watch/objects/object_meta.h"

namespace kpx {

// Decodes the TypeMeta (kind, apiVersion) and ObjectMeta parts every API object shares, and builds
// the "service default/web" prefix that decoding errors start with.
class ObjectMetaDecoder {
 public:
  enum class NameRule { kDns1123Label, kDns1123Subdomain };

  // `kind` and `api_version` are checked only when the object carries them: items of typed lists
  // (ServiceList.items) come without, single objects and watch events with.
  static Status CheckTypeMeta(const rapidjson::Value& object, std::string_view kind,
                              std::string_view api_version);

  // Fills *out from object.metadata. The name must follow `name_rule`; a namespaced object needs a
  // DNS-1123 label namespace, a cluster-scoped one ignores metadata.namespace. On error, *out holds
  // the name and namespace that were valid, so Describe() can still name the object.
  static Status Decode(const rapidjson::Value& object, NameRule name_rule, bool namespaced,
                       ObjectMeta* out);

  // "service default/web", "node kpx-node", or just "service" while the name is unknown.
  static std::string Describe(std::string_view kind_for_messages, const ObjectMeta& meta);
};

}  // namespace kpx
