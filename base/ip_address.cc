#include "base/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace kpx {

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) != 1) return std::nullopt;
    a.family_ = IpFamily::kIPv4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) != 1) return std::nullopt;
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(std::begin(kMappedPrefix), std::end(kMappedPrefix), a.bytes_.begin())) {
    return std::nullopt;
  }
  a.family_ = IpFamily::kIPv6;
  return a;
}

std::optional<IpAddress> IpAddress::ParseSloppy(std::string_view text) {
  if (auto strict = Parse(text)) return strict;
  if (text.find(':') != std::string_view::npos) return std::nullopt;
  // Four dot-separated decimal parts of 1-3 digits each, every one at most 255.
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t digits = 0;
    uint32_t part = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 3) {
      part = part * 10 + static_cast<uint32_t>(text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || part > 255) return std::nullopt;
    value = (value << 8) | part;
    ++parts;
    if (parts < 4) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != text.size()) return std::nullopt;
  return FromV4(value);
}

IpAddress IpAddress::FromV4(uint32_t host_order) {
  IpAddress a;
  a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::FromBytes(IpFamily family, const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = family;
  a.bytes_ = bytes;
  return a;
}

std::string IpAddress::ToString() const {
  if (family_ == IpFamily::kIPv4) {
    // inet_ntop formats IPv4 through sprintf; every rendered rule prints an address or two.
    char buf[16];
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      const unsigned v = bytes_[i];
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
      *p++ = static_cast<char>('0' + v % 10);
      if (i < 3) *p++ = '.';
    }
    return std::string(buf, static_cast<size_t>(p - buf));
  }
  char buf[INET6_ADDRSTRLEN];
  const int af = family_ == IpFamily::kIPv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes_.data(), buf, sizeof(buf)) == nullptr) return "<invalid>";
  return buf;
}

bool IpAddress::IsLoopback() const {
  if (family_ == IpFamily::kIPv4) return bytes_[0] == 127;
  static constexpr std::array<uint8_t, 16> kLoop = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kLoop;
}

bool IpAddress::IsUnspecified() const {
  const size_t n = family_ == IpFamily::kIPv4 ? 4 : 16;
  return std::all_of(bytes_.begin(), bytes_.begin() + n, [](uint8_t b) { return b == 0; });
}

}  // namespace kpx
