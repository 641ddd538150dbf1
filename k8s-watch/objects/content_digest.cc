#include "k8s-watch/objects/content_digest.h"

#include <openssl/evp.h>

#include <algorithm>

namespace kpx {

void ContentDigest::U32(uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<char>(v >> (8 * i)));
}

void ContentDigest::Text(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  bytes_.append(s);
}

void ContentDigest::Address(const IpAddress& a) {
  U32(static_cast<uint32_t>(a.family()));
  bytes_.append(reinterpret_cast<const char*>(a.bytes().data()), a.bytes().size());
}

void ContentDigest::Prefix(const Cidr& c) {
  Address(c.address());
  U32(static_cast<uint32_t>(c.prefix_length()));
}

ContentDigest::Digest ContentDigest::Finish() const { return Of(bytes_); }

ContentDigest::ShortDigest ContentDigest::FinishShort() const {
  const Digest full = Finish();
  ShortDigest digest;
  std::copy_n(full.begin(), digest.size(), digest.begin());
  return digest;
}

ContentDigest::Digest ContentDigest::Of(std::string_view bytes) {
  Digest digest{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, EVP_sha256(), nullptr);
  return digest;
}

}  // namespace kpx
