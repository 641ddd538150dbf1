#pragma once

#include <map>
#include <string>
#include <vector>

#include "proxier/ipvs/ipvs_handle.h"

namespace kpx {

// An in-memory IPVS table that answers like the kernel: EEXIST on a duplicate add, ESRCH-style
// not-found for a missing service, ENOENT for a missing destination, unknown schedulers refused,
// the HASHED flag reported on every service. Tests set connection counters to drive graceful
// termination, inject failures, and read a log of the mutations that reached it.
class FakeIpvsHandle : public IpvsHandle {
 public:
  struct Entry {
    IpvsService service;
    std::map<IpvsDestinationKey, IpvsDestination> dests;
  };

  Result<std::vector<IpvsService>> ListServices() override;
  KernelStatus AddService(const IpvsService& service) override;
  KernelStatus UpdateService(const IpvsService& service) override;
  KernelStatus DeleteService(const IpvsServiceKey& service) override;
  Result<std::vector<IpvsDestination>> ListDestinations(const IpvsServiceKey& service) override;
  KernelStatus AddDestination(const IpvsServiceKey& service, const IpvsDestination& dest) override;
  KernelStatus UpdateDestination(const IpvsServiceKey& service,
                                 const IpvsDestination& dest) override;
  KernelStatus DeleteDestination(const IpvsServiceKey& service,
                                 const IpvsDestinationKey& dest) override;
  KernelStatus SetTimeouts(const IpvsTimeouts& timeouts) override;
  Result<IpvsTimeouts> GetTimeouts() override;

  // Inspection.
  const std::map<IpvsServiceKey, Entry>& table() const { return table_; }
  const IpvsService* FindService(const IpvsServiceKey& key) const;
  const IpvsDestination* FindDestination(const IpvsServiceKey& svc,
                                         const IpvsDestinationKey& dest) const;
  // One line per successful mutation ("add-service TCP/10.0.0.1:80", "set-dest ... weight=0").
  const std::vector<std::string>& log() const { return log_; }
  void ClearLog() { log_.clear(); }
  int list_calls() const { return list_calls_; }

  // Connection counters as the kernel would report them in dumps.
  void SetConnections(const IpvsServiceKey& svc, const IpvsDestinationKey& dest, uint32_t active,
                      uint32_t inactive);
  // The next `count` mutations fail with a generic error (nothing changes).
  void FailNextMutations(int count) { fail_mutations_ = count; }

 private:
  bool ConsumeFailure();

  std::map<IpvsServiceKey, Entry> table_;
  IpvsTimeouts timeouts_{900, 120, 300};  // the kernel's defaults
  std::vector<std::string> log_;
  int fail_mutations_ = 0;
  int list_calls_ = 0;
};

}  // namespace kpx
