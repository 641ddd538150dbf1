#include "base/cidr.h"

#include <algorithm>
#include <charconv>

namespace kpx {

namespace {

IpAddress Masked(const IpAddress& ip, int prefix) {
  auto bytes = ip.bytes();
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(prefix - i * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>((0xff00 >> keep) & 0xff);
  }
  return IpAddress::FromBytes(ip.family(), bytes);
}

}  // namespace

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = IpAddress::Parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  const std::string_view len_text = text.substr(slash + 1);
  int len = -1;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || ptr != len_text.data() + len_text.size() || len_text.empty()) {
    return std::nullopt;
  }
  const int max = ip->family() == IpFamily::kIPv4 ? 32 : 128;
  if (len < 0 || len > max) return std::nullopt;
  Cidr c;
  c.address_ = Masked(*ip, len);
  c.prefix_length_ = len;
  return c;
}

Cidr Cidr::Host(const IpAddress& ip) {
  Cidr c;
  c.address_ = ip;
  c.prefix_length_ = ip.family() == IpFamily::kIPv4 ? 32 : 128;
  return c;
}

bool Cidr::Contains(const IpAddress& ip) const {
  if (ip.family() != family()) return false;
  const auto& a = address_.bytes();
  const auto& b = ip.bytes();
  int bits = prefix_length_;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

std::string Cidr::ToString() const {
  return address_.ToString() + "/" + std::to_string(prefix_length_);
}

}  // namespace kpx
