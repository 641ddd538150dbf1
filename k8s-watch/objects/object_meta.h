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
  // Name, namespace, uid and resourceVersion only: what a source keeps to name an object it no
  // longer holds whole (labels and annotations were read when the object arrived).
  ObjectMeta Identity() const { return {name, namespace_, uid, resource_version, {}, {}}; }
  bool SameIdentity(const ObjectMeta& o) const {
    return name == o.name && namespace_ == o.namespace_ && uid == o.uid &&
           resource_version == o.resource_version;
  }
  bool operator==(const ObjectMeta&) const = default;
};

}  // namespace kpx
