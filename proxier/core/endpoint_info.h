#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/ip_address.h"
#include "proxier/core/zone_hints.h"

namespace kpx {

// One backend of one service port, after slices are merged. 24 bytes (a 1-byte family in
// IpAddress, the flags in the byte after it, the port in 16 bits, hints as a 4-byte number); the
// endpoint's zone, which no selection reads (topology uses the hints and the node's own zone), is
// not kept. There are as many as the cluster has endpoints (a million at 100 000 Services x 10),
// so EndpointList stores IPv4 ones packed in 5 bytes and hands out this form as a value.
struct EndpointInfo {
  IpAddress ip;  // 17 bytes: the flags share the word it leaves
  bool ready : 1 = false;
  bool serving : 1 = false;
  bool terminating : 1 = false;
  // Runs on this node. The node's name itself is not kept: the proxy's node is fixed for the
  // life of the process, so locality is decided once, when the slice arrives.
  bool is_local : 1 = false;
  uint16_t port = 0;  // the decoder admits 1-65535 only
  ZoneHints hint_zones;

  // What identifies the endpoint within a service port: lists are sorted and deduplicated by it.
  // A copy, not references: the EndpointInfo may be a temporary decoded from a packed list entry.
  std::pair<IpAddress, uint16_t> Address() const { return {ip, port}; }

  // "10.0.0.1:80" or "[fd00::1]:80".
  std::string ToString() const {
    const std::string host =
        ip.family() == IpFamily::kIPv6 ? "[" + ip.ToString() + "]" : ip.ToString();
    return host + ":" + std::to_string(port);
  }
  bool operator==(const EndpointInfo&) const = default;
};
static_assert(sizeof(EndpointInfo) == 24);

}  // namespace kpx
