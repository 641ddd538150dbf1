#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "base/ip_address.h"
#include "base/protocol.h"

namespace kpx {

// IP_VS_SVC_F_PERSISTENT: the flag session affinity (ClientIP) maps to.
inline constexpr uint32_t kIpvsFlagPersistent = 0x0001;
// IP_VS_SVC_F_HASHED: set by the kernel on every service it reports; never meaningful to compare.
inline constexpr uint32_t kIpvsFlagHashed = 0x0002;

// Identifies one IPVS virtual server: the kernel looks services up by (family, protocol, address,
// port). kpx never uses firewall-mark services.
struct IpvsServiceKey {
  Protocol protocol = Protocol::kTCP;
  IpAddress address;  // carries the family
  uint16_t port = 0;

  IpFamily family() const { return address.family(); }
  // "TCP/10.96.0.1:80", "UDP/[fd00::1]:53".
  std::string ToString() const;
  auto operator<=>(const IpvsServiceKey&) const = default;
};

// One IPVS virtual server as kpx programs it and as the kernel reports it.
struct IpvsService {
  IpvsServiceKey key;
  std::string scheduler = "rr";
  uint32_t flags = 0;    // IP_VS_SVC_F_*; kpx sets only kIpvsFlagPersistent
  uint32_t timeout = 0;  // persistence timeout in seconds (only meaningful when persistent)
  // Persistence granularity: a be32 mask for IPv4 (0xffffffff = per client address), a prefix
  // length for IPv6 (128). Sent and received as the raw 32-bit attribute value.
  uint32_t netmask = 0xffffffff;

  bool persistent() const { return (flags & kIpvsFlagPersistent) != 0; }
  bool operator==(const IpvsService&) const = default;
};

// The netmask kube-proxy programs for a family: whole client address.
inline uint32_t IpvsFullNetmask(IpFamily f) { return f == IpFamily::kIPv4 ? 0xffffffffu : 128u; }

// The inverse of IpProtocolNumber (IPVS keys services by the number); false for protocols kpx does
// not program.
bool ProtocolFromNumber(uint16_t number, Protocol* out);

}  // namespace kpx
