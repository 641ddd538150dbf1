#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "base/ip_address.h"

namespace kpx {

// One endpoint address a relay connects to.
struct Backend {
  IpAddress ip;
  uint16_t port = 0;

  // "10.0.0.1:80" or "[fd00::1]:80".
  std::string ToString() const {
    const std::string host =
        ip.family() == IpFamily::kIPv6 ? "[" + ip.ToString() + "]" : ip.ToString();
    return host + ":" + std::to_string(port);
  }
  auto operator<=>(const Backend&) const = default;
};

}  // namespace kpx
