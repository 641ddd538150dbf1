#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip_address.h"

namespace kpx {

// An IP prefix such as 10.0.0.0/8. Parse masks off host bits ("10.1.2.3/8" becomes 10.0.0.0/8),
// the same normalisation iptables applies, so rendered rules and comparisons agree.
class Cidr {
 public:
  Cidr() = default;
  static std::optional<Cidr> Parse(std::string_view text);
  // A single address as a /32 or /128.
  static Cidr Host(const IpAddress& ip);

  const IpAddress& address() const { return address_; }
  int prefix_length() const { return prefix_length_; }
  IpFamily family() const { return address_.family(); }
  bool Contains(const IpAddress& ip) const;
  std::string ToString() const;

  auto operator<=>(const Cidr&) const = default;

 private:
  IpAddress address_;
  int prefix_length_ = 0;
};

}  // namespace kpx
