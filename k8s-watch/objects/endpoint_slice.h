#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/interned_string.h"
#include "base/ip_address.h"
#include "base/protocol.h"
#include "k8s-watch/objects/object_meta.h"

namespace kpx {

// One entry of EndpointSlice.endpoints. Conditions follow the API's rules for unset values:
// ready unset means ready, serving unset means "same as ready", terminating unset means false.
struct Endpoint {
  std::vector<IpAddress> addresses;  // kube-proxy uses only the first
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  InternedString node_name;
  InternedString zone;
  std::vector<std::string> hint_zones;  // hints.forZones[].name
  bool operator==(const Endpoint&) const = default;
};

struct EndpointSlicePort {
  std::string name;
  Protocol protocol = Protocol::kTCP;
  int32_t port = 0;
  bool operator==(const EndpointSlicePort&) const = default;
};

// A validated discovery.k8s.io/v1 EndpointSlice. Only IPv4 and IPv6 slices survive decoding
// (FQDN slices are skipped, as kube-proxy does).
struct EndpointSlice {
  ObjectMeta meta;
  std::string service_name;  // label kubernetes.io/service-name
  IpFamily address_type = IpFamily::kIPv4;
  std::vector<Endpoint> endpoints;
  std::vector<EndpointSlicePort> ports;
  bool operator==(const EndpointSlice&) const = default;
};

}  // namespace kpx
