#include "k8s-watch/objects/kept_slice.h"

#include "k8s-watch/objects/content_digest.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace kpx {
namespace {

// A new field in these structs must be added to DigestOf, or two slices that differ only in it
// would look unchanged; the sizes catch that on the platforms CI builds.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(Endpoint) == 72, "a field was added to Endpoint: digest it in DigestOf");
static_assert(sizeof(EndpointSlicePort) == 40,
              "a field was added to EndpointSlicePort: digest it in DigestOf");
#endif

}  // namespace

KeptSlice::Digest KeptSlice::DigestOf(const EndpointSlice& slice) {
  ContentDigest e;
  e.U32(static_cast<uint32_t>(slice.endpoints.size()));
  for (const Endpoint& ep : slice.endpoints) {
    e.U32(static_cast<uint32_t>(ep.addresses.size()));
    for (const IpAddress& a : ep.addresses) e.Address(a);
    e.U32((ep.ready ? 1u : 0u) | (ep.serving ? 2u : 0u) | (ep.terminating ? 4u : 0u));
    e.Text(ep.node_name.str());
    e.Text(ep.zone.str());
    e.U32(static_cast<uint32_t>(ep.hint_zones.size()));
    for (const std::string& z : ep.hint_zones) e.Text(z);
  }
  e.U32(static_cast<uint32_t>(slice.ports.size()));
  for (const EndpointSlicePort& p : slice.ports) {
    e.Text(p.name);
    e.U32(static_cast<uint32_t>(p.protocol));
    e.U32(static_cast<uint32_t>(p.port));
  }
  return e.FinishShort();
}

bool KeptSlice::Matches(const EndpointSlice& whole) const {
  return id_.Matches(whole.meta, whole.service_name, static_cast<unsigned>(whole.address_type)) &&
         DigestOf(whole) == content_;
}

EndpointSlice KeptSlice::identity() const {
  EndpointSlice identity;
  identity.meta = id_.Meta();
  identity.service_name = id_.extra();
  identity.address_type = static_cast<IpFamily>(id_.tag());
  return identity;
}

EndpointSlice KeptSlice::IdentityOf(const EndpointSlice& slice) {
  EndpointSlice identity;
  identity.meta = ObjectIdentity::Of(slice.meta).Meta();  // labels and annotations dropped
  identity.service_name = slice.service_name;
  identity.address_type = slice.address_type;
  return identity;
}

}  // namespace kpx
