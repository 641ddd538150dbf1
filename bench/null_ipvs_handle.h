#pragma once

#include <vector>

#include "proxier/ipvs/ipvs_handle.h"

namespace kpx {

// kpx-sync-bench's --null-kernel IPVS table: accepts every operation and keeps nothing, as the
// real kernel keeps nothing in kpx's address space, so the process's RSS is kpx's own (the
// stateful FakeIpvsHandle holds a copy of every service and real server, and its allocations
// share pages with kpx's). Lists are empty: fine for a first full sync and the incremental
// syncs that follow, which list nothing but the destinations of one retired real server.
class NullIpvsHandle : public IpvsHandle {
 public:
  Result<std::vector<IpvsService>> ListServices() override { return std::vector<IpvsService>{}; }
  KernelStatus AddService(const IpvsService&) override { return KernelStatus::Ok(); }
  KernelStatus UpdateService(const IpvsService&) override { return KernelStatus::Ok(); }
  KernelStatus DeleteService(const IpvsServiceKey&) override { return KernelStatus::Ok(); }
  Result<std::vector<IpvsDestination>> ListDestinations(const IpvsServiceKey&) override {
    return std::vector<IpvsDestination>{};
  }
  KernelStatus AddDestination(const IpvsServiceKey&, const IpvsDestination&) override {
    return KernelStatus::Ok();
  }
  KernelStatus UpdateDestination(const IpvsServiceKey&, const IpvsDestination&) override {
    return KernelStatus::Ok();
  }
  KernelStatus DeleteDestination(const IpvsServiceKey&, const IpvsDestinationKey&) override {
    return KernelStatus::Ok();
  }
  KernelStatus SetTimeouts(const IpvsTimeouts&) override { return KernelStatus::Ok(); }
  Result<IpvsTimeouts> GetTimeouts() override { return IpvsTimeouts{900, 120, 300}; }
};

}  // namespace kpx
