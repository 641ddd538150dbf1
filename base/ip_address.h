#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/protocol.h"

namespace kpx {

// An IPv4 or IPv6 address held as 16 bytes (IPv4 in the first four). Parsing accepts only the
// canonical textual forms inet_pton accepts; IPv4-mapped IPv6 addresses are rejected because the
// API server rejects them too and they would smuggle a v4 address into a v6 rule set.
class IpAddress {
 public:
  IpAddress() = default;
  static std::optional<IpAddress> Parse(std::string_view text);
  static IpAddress FromV4(uint32_t host_order);
  // Bytes beyond the family's length must be zero.
  static IpAddress FromBytes(IpFamily family, const std::array<uint8_t, 16>& bytes);

  IpFamily family() const { return family_; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Canonical text (inet_ntop), so equal addresses always print the same way.
  std::string ToString() const;
  bool IsLoopback() const;
  bool IsUnspecified() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::kIPv4;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace kpx
