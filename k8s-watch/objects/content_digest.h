#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/cidr.h"
#include "base/ip_address.h"

namespace kpx {

// Builds a SHA-256 over an object's fields, each written with its length or count, so that no two
// different contents share an encoding. Of() is the plain SHA-256 of a byte string. Sources keep
// this digest instead of the object's content (KeptSlice, KeptService) to tell a changed object
// from an unchanged one.
class ContentDigest {
 public:
  using Digest = std::array<unsigned char, 32>;
  // The first 16 bytes of the SHA-256, what sources keep per object to tell a changed object from
  // an unchanged one. 128 bits are enough for that: an accidental collision among even 10^12
  // versions has a chance below 10^-14, and a deliberate one (2^64 work) gains nothing, since
  // whoever can write an object can write any version of it anyway.
  using ShortDigest = std::array<unsigned char, 16>;

  // Room for a typical object up front: grown by doubling from empty, a slice's digest was five
  // reallocations of short-lived blocks.
  ContentDigest() { bytes_.reserve(512); }

  void U32(uint32_t v);
  void Text(std::string_view s);
  void Address(const IpAddress& a);
  void Prefix(const Cidr& c);
  Digest Finish() const;
  ShortDigest FinishShort() const;
  // SHA-256 of `bytes` as they are (no length prefix), without copying them: file contents,
  // rendered rule texts, chain-name hashes.
  static Digest Of(std::string_view bytes);

 private:
  std::string bytes_;
};

}  // namespace kpx
