#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "base/interned_string.h"
#include "base/ip_address.h"
#include "proxier/core/zone_hints.h"

namespace kpx {

// One backend of one service port, after slices are merged. 32 bytes: there are as many as the
// cluster has endpoints (a million at 100 000 Services x 10), so the fields are packed (a 1-byte
// family in IpAddress, the port in 16 bits, interned hints) and the endpoint's zone, which no
// selection reads (topology uses the hints and the node's own zone), is not kept.
struct EndpointInfo {
  IpAddress ip;
  uint16_t port = 0;  // the decoder admits 1-65535 only
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  // Runs on this node. The node's name itself is not kept: the proxy's node is fixed for the
  // life of the process, so locality is decided once, when the slice arrives.
  bool is_local = false;
  ZoneHints hint_zones;

  // What identifies the endpoint within a service port: lists are sorted and deduplicated by it.
  auto Address() const { return std::tie(ip, port); }

  // "10.0.0.1:80" or "[fd00::1]:80".
  std::string ToString() const {
    const std::string host =
        ip.family() == IpFamily::kIPv6 ? "[" + ip.ToString() + "]" : ip.ToString();
    return host + ":" + std::to_string(port);
  }
  bool operator==(const EndpointInfo&) const = default;
};
static_assert(sizeof(void*) != 8 || sizeof(EndpointInfo) == 32);

}  // namespace kpx
