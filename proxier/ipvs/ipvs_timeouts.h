#pragma once

#include <cstdint>

namespace kpx {

// IPVS connection timeouts in seconds. Zero leaves the kernel's value unchanged, which is also
// how the kernel itself interprets a zero in IPVS_CMD_SET_CONFIG.
struct IpvsTimeouts {
  uint32_t tcp = 0;
  uint32_t tcp_fin = 0;
  uint32_t udp = 0;

  bool empty() const { return tcp == 0 && tcp_fin == 0 && udp == 0; }
  bool operator==(const IpvsTimeouts&) const = default;
};

}  // namespace kpx
