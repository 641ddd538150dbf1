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
  // EVP_Digest looks the algorithm up and allocates a context on every call, which cost more
  // than hashing a chain name: a full sync at 10 000 services names 110 000 chains. The
  // algorithm is fetched once, and each thread reuses one context.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Context context;
  Digest digest{};
  unsigned int len = 0;
  if (sha256 == nullptr || context.ctx == nullptr ||
      EVP_DigestInit_ex2(context.ctx, sha256, nullptr) != 1 ||
      EVP_DigestUpdate(context.ctx, bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(context.ctx, digest.data(), &len) != 1) {
    EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, EVP_sha256(), nullptr);
  }
  return digest;
}

}  // namespace kpx
