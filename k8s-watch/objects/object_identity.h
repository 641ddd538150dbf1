#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "k8s-watch/objects/object_meta.h"

namespace kpx {

// The part of an object's metadata that names one version of it (name, namespace, uid,
// resourceVersion, and what else the kept kind names the object by: one `extra` text and a small
// `tag`, a slice's service name and address type): what a source keeps, per object, of objects it
// no longer holds whole (KeptService, KeptSlice). Sources keep one per Service and per
// EndpointSlice, 100 000s of them, so it is one pointer to one allocation holding all of it: four
// std::strings were 128 bytes plus a heap block for the 36-character uid. A canonical UUID uid
// (what the API server assigns) is stored as its 16 bytes, any other uid as text; the
// "namespace/name" key is stored contiguously, so Key() needs no allocation.
class ObjectIdentity {
 public:
  ObjectIdentity() = default;
  ObjectIdentity(const ObjectIdentity& o);
  ObjectIdentity(ObjectIdentity&&) noexcept = default;
  ObjectIdentity& operator=(const ObjectIdentity& o);
  ObjectIdentity& operator=(ObjectIdentity&&) noexcept = default;

  // `tag` < kTagLimit.
  static constexpr unsigned kTagLimit = 64;
  static ObjectIdentity Of(const ObjectMeta& m, std::string_view extra = {}, unsigned tag = 0);
  // The metadata with these fields and no labels or annotations.
  ObjectMeta Meta() const;
  // Whether `m` (with `extra` and `tag`) has exactly these fields.
  bool Matches(const ObjectMeta& m, std::string_view extra = {}, unsigned tag = 0) const;

  // "namespace/name", or "name" for cluster-scoped objects (ObjectMeta::Key()).
  std::string_view Key() const;
  std::string_view name() const;
  std::string_view namespace_() const;
  std::string uid() const;
  std::string_view resource_version() const;
  std::string_view extra() const;
  unsigned tag() const;

  bool operator==(const ObjectIdentity& o) const;

  // The encoded form, for a holder that keeps it inside a block of its own (one allocation per
  // object instead of two): empty for a default identity. FromBytes(Bytes()) == *this, and
  // KeyIn(Bytes().data()) == Key() when not empty.
  std::string_view Bytes() const;
  static ObjectIdentity FromBytes(std::string_view bytes);
  // Key() and Bytes().size() of the identity encoded at `bytes` (the start of a non-empty
  // Bytes()).
  static std::string_view KeyIn(const char* bytes);
  static size_t SizeIn(const char* bytes);

 private:
  struct Layout;
  Layout Parse() const;
  static Layout ParseAt(const char* block);

  // Header (a form byte: the uid's form and the tag, then the lengths as LEB128 varints), then the
  // key, the extra text, the uid (16 bytes or text) and the resourceVersion. Null only for a
  // default-constructed identity (empty throughout). One encoding per field value, so equal
  // identities have equal blocks.
  std::unique_ptr<char[]> block_;
};

}  // namespace kpx
