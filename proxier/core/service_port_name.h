#pragma once

#include <compare>
#include <string>

#include "base/pooled_string.h"
#include "base/protocol.h"

namespace kpx {

// Identifies one port of one Service: the unit every proxier programs. 32 bytes, its texts
// shared: the desired state, its map's keys and the dataplanes' own maps each hold a copy for
// every service port (three copies of three std::strings were ~310 bytes a port).
struct ServicePortName {
  PooledString namespace_;
  PooledString name;
  PooledString port;  // the port's name; empty for single-port services
  Protocol protocol = Protocol::kTCP;

  // "ns/name:port" (or "ns/name" when the port is unnamed), as kube-proxy prints it; the protocol
  // is not part of it, just as in kube-proxy's rule comments.
  std::string ToString() const {
    std::string s = namespace_ + "/" + name;
    if (!port.empty()) s += ":" + port;
    return s;
  }
  // namespace/name of the Service.
  std::string ServiceKey() const { return namespace_ + "/" + name; }

  auto operator<=>(const ServicePortName&) const = default;
};
static_assert(sizeof(void*) != 8 || sizeof(ServicePortName) == 32);

}  // namespace kpx
