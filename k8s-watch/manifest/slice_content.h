#pragma once

#include <array>

#include "k8s-watch/objects/endpoint_slice.h"

namespace kpx {

// An EndpointSlice split into what a source must keep to name it and what only the core needs.
// The endpoints are ~90 % of a slice's bytes; a source that kept them would hold every endpoint
// a second time beside the core's EndpointSliceCache (20 MiB at 10 000 Services x 10
// endpoints). Keeping the identity plus a digest of the content still tells a changed slice from
// an unchanged one and names the slice in Update and Delete.
class SliceContent {
 public:
  using Digest = std::array<unsigned char, 32>;

  // SHA-256 over the endpoints and ports, field by field with lengths, so that no two different
  // contents share an encoding.
  static Digest DigestOf(const EndpointSlice& slice);
  // The slice without its endpoints and ports: metadata, service name, address type.
  static EndpointSlice IdentityOf(const EndpointSlice& slice);
};

}  // namespace kpx
