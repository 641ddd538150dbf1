#pragma once

#include <memory>

#include "base/status.h"
#include "proxier/dataplane.h"
#include "proxier/ipvs/ipvs_options.h"

namespace kpx {

// The IPVS mode wired with its real adapters: generic-netlink IPVS handle, rtnetlink link handle,
// ipset(8), the iptables tools (backend per options.iptables_backend, "auto" detecting like
// kube-proxy's iptables-wrapper) and /proc/sys. Fails with a clear message on bad options (unknown
// --ipvs-scheduler) or when the kernel has no IPVS. Changes no kernel state until the first Apply.
Result<std::unique_ptr<Dataplane>> NewIpvsDataplane(const IpvsOptions& options);

}  // namespace kpx
