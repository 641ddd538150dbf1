#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "base/ip_address.h"

namespace kpx {

// IP_VS_CONN_F_MASQ: NAT forwarding, the only method kube-proxy uses.
inline constexpr uint32_t kIpvsForwardMasq = 0;

// Identifies a real server within one virtual server.
struct IpvsDestinationKey {
  IpAddress address;
  uint16_t port = 0;

  // "10.0.0.1:80" or "[fd00::1]:80".
  std::string ToString() const;
  auto operator<=>(const IpvsDestinationKey&) const = default;
};

// One IPVS real server. The connection counters are only filled in by dumps.
struct IpvsDestination {
  IpvsDestinationKey key;
  int32_t weight = 1;
  uint32_t forward_method = kIpvsForwardMasq;
  uint32_t upper_threshold = 0;
  uint32_t lower_threshold = 0;
  uint32_t active_connections = 0;
  uint32_t inactive_connections = 0;
  uint32_t persistent_connections = 0;

  bool operator==(const IpvsDestination&) const = default;
};

}  // namespace kpx
