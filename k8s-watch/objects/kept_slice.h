#pragma once

#include <string_view>
#include <utility>

#include "k8s-watch/objects/content_digest.h"
#include "k8s-watch/objects/endpoint_slice.h"
#include "k8s-watch/objects/object_identity.h"

namespace kpx {

// What a source keeps of an EndpointSlice it delivered: the identity (name, namespace, uid,
// resourceVersion, service name, address type) and a digest of the endpoints and ports. The
// endpoints are ~90 % of a slice's bytes; a source that kept them would hold every endpoint a
// second time beside the core's EndpointSliceCache (9 MiB of live heap at 10 000 Services x 10
// endpoints). Labels and annotations are not kept either (another 3 MiB there): they were read
// when the slice arrived (the proxy-name filter, the trigger-time annotation) and the core reads
// neither from an old slice, so a change to them alone is no change to kpx. The identity and the
// digest still tell a changed slice from an unchanged one and name the slice in Update and Delete
// (see EndpointSliceHandler). 24 bytes and one allocation: the service name and the address type
// are the identity's extra text and tag.
class KeptSlice {
 public:
  using Digest = ContentDigest::ShortDigest;

  explicit KeptSlice(const EndpointSlice& whole)
      : id_(ObjectIdentity::Of(whole.meta, whole.service_name,
                               static_cast<unsigned>(whole.address_type))),
        content_(DigestOf(whole)) {}
  // The slice without endpoints, ports, labels and annotations, for Update's old slice and for
  // Delete.
  // Built on each call: the events that need it are few.
  EndpointSlice identity() const;
  // From the parts a holder packed away (id() and content()).
  KeptSlice(ObjectIdentity id, const Digest& content) : id_(std::move(id)), content_(content) {}
  std::string_view Key() const { return id_.Key(); }
  const ObjectIdentity& id() const { return id_; }
  const Digest& content() const { return content_; }
  // Whether `whole` is the slice this was kept from (or one equal to it).
  bool Matches(const EndpointSlice& whole) const;
  bool operator==(const KeptSlice&) const = default;

  // SHA-256 (truncated, see ShortDigest) over the endpoints and ports, field by field with lengths,
  // so that no two different contents share an encoding.
  static Digest DigestOf(const EndpointSlice& slice);
  // Name, namespace, uid, resourceVersion, service name and address type of `slice`.
  static EndpointSlice IdentityOf(const EndpointSlice& slice);

 private:
  ObjectIdentity id_;  // the service name as its extra text, the address type as its tag
  Digest content_;
};

}  // namespace kpx
