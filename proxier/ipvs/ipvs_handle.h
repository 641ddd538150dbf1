#pragma once

#include <vector>

#include "base/status.h"
#include "proxier/ipvs/ipvs_destination.h"
#include "proxier/ipvs/ipvs_service.h"
#include "proxier/ipvs/ipvs_timeouts.h"
#include "proxier/ipvs/kernel_status.h"

namespace kpx {

// The narrow seam between the IPVS dataplane and the kernel's IPVS table. Mutations report
// EEXIST (add of something present) and ENOENT/ESRCH (update or delete of something missing) as
// distinct KernelErrorKinds, exactly as the kernel does, so reconcilers can treat them as benign.
// Implementations: NetlinkIpvsHandle (generic netlink) and FakeIpvsHandle (stateful, for tests).
// Not thread-safe; the dataplane calls it from the sync thread only.
class IpvsHandle {
 public:
  virtual ~IpvsHandle() = default;

  // Every virtual server kpx can represent (firewall-mark services are skipped).
  virtual Result<std::vector<IpvsService>> ListServices() = 0;
  virtual KernelStatus AddService(const IpvsService& service) = 0;
  // Changes scheduler, flags, timeout and netmask of an existing service.
  virtual KernelStatus UpdateService(const IpvsService& service) = 0;
  // Deletes the service and all its destinations.
  virtual KernelStatus DeleteService(const IpvsServiceKey& service) = 0;

  // The real servers of one virtual server with their connection counters; empty when the
  // service does not exist (the kernel's dump says nothing either).
  virtual Result<std::vector<IpvsDestination>> ListDestinations(const IpvsServiceKey& service) = 0;
  virtual KernelStatus AddDestination(const IpvsServiceKey& service,
                                      const IpvsDestination& dest) = 0;
  // Changes weight, forwarding method and thresholds of an existing destination.
  virtual KernelStatus UpdateDestination(const IpvsServiceKey& service,
                                         const IpvsDestination& dest) = 0;
  virtual KernelStatus DeleteDestination(const IpvsServiceKey& service,
                                         const IpvsDestinationKey& dest) = 0;

  // Zero fields leave the kernel's value unchanged.
  virtual KernelStatus SetTimeouts(const IpvsTimeouts& timeouts) = 0;
  virtual Result<IpvsTimeouts> GetTimeouts() = 0;
};

}  // namespace kpx
