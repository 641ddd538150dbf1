#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/interned_string.h"
#include "base/ip_address.h"
#include "proxier/core/zone_hints.h"

namespace kpx {

// One backend of one service port, after slices are merged.
struct EndpointInfo {
  IpAddress ip;
  int32_t port = 0;
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  bool is_local = false;  // runs on this node
  InternedString node_name;
  InternedString zone;
  ZoneHints hint_zones;

  // "10.0.0.1:80" or "[fd00::1]:80".
  std::string ToString() const {
    const std::string host =
        ip.family() == IpFamily::kIPv6 ? "[" + ip.ToString() + "]" : ip.ToString();
    return host + ":" + std::to_string(port);
  }
  bool operator==(const EndpointInfo&) const = default;
};

}  // namespace kpx
