#pragma once

#include <compare>
#include <string>

#include "base/protocol.h"

namespace kpx {

// Identifies one port of one Service: the unit every proxier programs.
struct ServicePortName {
  std::string namespace_;
  std::string name;
  std::string port;  // the port's name; empty for single-port services
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

}  // namespace kpx
