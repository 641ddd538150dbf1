#pragma once

#include <vector>

#include "base/ip_address.h"
#include "base/status.h"

namespace kpx {

// The addresses on this host's interfaces (in kpx's network namespace), as kube-proxy lists them
// for --nodeport-addresses: NodePorts answer on interface addresses, not on the Node object's.
class LocalAddressLister {
 public:
  virtual ~LocalAddressLister() = default;
  // Every address of every interface, both families, loopback included; sorted, no duplicates.
  virtual Result<std::vector<IpAddress>> List() = 0;
};

}  // namespace kpx
