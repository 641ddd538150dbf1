#pragma once

#include <string>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"
#include "proxier/ipvs/kernel_status.h"

namespace kpx {

// An address configured on some interface of the host.
struct InterfaceAddress {
  std::string interface;
  IpAddress address;
  bool operator==(const InterfaceAddress&) const = default;
};

// The seam to the host's links and addresses: the dummy device (kube-ipvs0) that holds every
// service IP so the kernel accepts packets for them locally, where IPVS picks them up. Addresses
// are host routes (/32, /128). Errors: kExists for an address already there, kNotFound for a
// missing device or address. Implementations: NetlinkLinkHandle (rtnetlink via libnl-route) and
// FakeLinkHandle. Not thread-safe.
class LinkHandle {
 public:
  virtual ~LinkHandle() = default;
  // Creates the dummy device if missing. kube-proxy leaves it administratively down, and so does
  // kpx unless `up`: local routes for its addresses exist either way, and a down device never
  // answers ARP/ND for them.
  virtual KernelStatus EnsureDummy(const std::string& name, bool up) = 0;
  virtual Result<bool> LinkExists(const std::string& name) = 0;
  virtual KernelStatus DeleteLink(const std::string& name) = 0;
  // kNotFound (as a Status message) when the device is missing.
  virtual Result<std::vector<IpAddress>> ListAddresses(const std::string& name) = 0;
  virtual KernelStatus AddAddress(const std::string& name, const IpAddress& address) = 0;
  virtual KernelStatus DeleteAddress(const std::string& name, const IpAddress& address) = 0;
  // Every address of every interface, for picking NodePort addresses.
  virtual Result<std::vector<InterfaceAddress>> ListAllAddresses() = 0;
};

}  // namespace kpx
