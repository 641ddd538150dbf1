#pragma once

#include <string>

#include "k8s-watch/objects/object_meta.h"

namespace kpx {

// The part of an object's metadata that names one version of it: what a source keeps of an object
// it no longer holds whole (KeptService, KeptSlice), 128 bytes where an ObjectMeta with its empty
// label and annotation maps is 224.
struct ObjectIdentity {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;

  static ObjectIdentity Of(const ObjectMeta& m) {
    return {m.name, m.namespace_, m.uid, m.resource_version};
  }
  // The metadata with these fields and no labels or annotations.
  ObjectMeta Meta() const { return {name, namespace_, uid, resource_version, {}, {}}; }
  bool Matches(const ObjectMeta& m) const {
    return name == m.name && namespace_ == m.namespace_ && uid == m.uid &&
           resource_version == m.resource_version;
  }
  std::string Key() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
  bool operator==(const ObjectIdentity&) const = default;
};

}  // namespace kpx
