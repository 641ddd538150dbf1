#pragma once

#include <string_view>
#include <utility>

#include "k8s-watch/objects/content_digest.h"
#include "k8s-watch/objects/object_identity.h"
#include "k8s-watch/objects/service.h"

namespace kpx {

// What a source keeps of a Service it delivered: its identity (name, namespace, uid,
// resourceVersion) and a digest of everything else, labels and annotations included. A whole
// Service is ~430 bytes plus its label and annotation maps (6 MiB at 10 000 Services) that no
// handler reads again: the core turns a Service into its ports when it arrives, and reads only
// the key of the old version an Update or Delete names (see ServiceHandler). 24 bytes and one
// allocation (ObjectIdentity).
class KeptService {
 public:
  using Digest = ContentDigest::ShortDigest;

  explicit KeptService(const Service& whole)
      : id_(ObjectIdentity::Of(whole.meta)), content_(DigestOf(whole)) {}
  // The Service with only its identity, for Update's old Service and for Delete (built on each
  // call: the events that need it are few).
  Service identity() const;
  // From the parts a holder packed away (id() and content()).
  KeptService(ObjectIdentity id, const Digest& content) : id_(std::move(id)), content_(content) {}
  std::string_view Key() const { return id_.Key(); }
  const ObjectIdentity& id() const { return id_; }
  const Digest& content() const { return content_; }
  // Whether `whole` is the Service this was kept from (or one equal to it).
  bool Matches(const Service& whole) const;
  bool operator==(const KeptService&) const = default;

  // SHA-256 (truncated, see ShortDigest) over every field but the identity, labels and
  // annotations included.
  static Digest DigestOf(const Service& service);
  // The Service with name, namespace, uid and resourceVersion alone; every other field default.
  static Service IdentityOf(const Service& service);

 private:
  ObjectIdentity id_;
  Digest content_;
};

}  // namespace kpx
