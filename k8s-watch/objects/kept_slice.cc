#include "k8s-watch/objects/kept_slice.h"

#include <openssl/evp.h>

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

class Encoder {
 public:
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Text(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Bytes(const unsigned char* p, size_t n) { out_.append(reinterpret_cast<const char*>(p), n); }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

}  // namespace

KeptSlice::Digest KeptSlice::DigestOf(const EndpointSlice& slice) {
  Encoder e;
  e.U32(static_cast<uint32_t>(slice.endpoints.size()));
  for (const Endpoint& ep : slice.endpoints) {
    e.U32(static_cast<uint32_t>(ep.addresses.size()));
    for (const IpAddress& a : ep.addresses) {
      e.U32(static_cast<uint32_t>(a.family()));
      e.Bytes(a.bytes().data(), a.bytes().size());
    }
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
  Digest digest{};
  unsigned int len = 0;
  EVP_Digest(e.bytes().data(), e.bytes().size(), digest.data(), &len, EVP_sha256(), nullptr);
  return digest;
}

bool KeptSlice::Matches(const EndpointSlice& whole) const {
  const ObjectMeta& m = identity_.meta;
  return whole.meta.name == m.name && whole.meta.namespace_ == m.namespace_ &&
         whole.meta.uid == m.uid && whole.meta.resource_version == m.resource_version &&
         whole.service_name == identity_.service_name &&
         whole.address_type == identity_.address_type && DigestOf(whole) == content_;
}

EndpointSlice KeptSlice::IdentityOf(const EndpointSlice& slice) {
  EndpointSlice identity;
  identity.meta.name = slice.meta.name;
  identity.meta.namespace_ = slice.meta.namespace_;
  identity.meta.uid = slice.meta.uid;
  identity.meta.resource_version = slice.meta.resource_version;
  identity.service_name = slice.service_name;
  identity.address_type = slice.address_type;
  return identity;
}

}  // namespace kpx
