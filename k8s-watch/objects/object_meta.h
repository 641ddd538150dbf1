#pragma once

#include <map>
#include <string>

namespace kpx {

// The part of metav1.ObjectMeta that kpx reads.
struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;

  // "namespace/name", or "name" for cluster-scoped objects: the key caches use.
  std::string Key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
  bool operator==(const ObjectMeta&) const = default;
};

}  // namespace kpx
