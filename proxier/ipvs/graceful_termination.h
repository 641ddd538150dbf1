#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "proxier/ipvs/ipvs_handle.h"

namespace kpx {

// Drains destinations instead of cutting their connections: a retired destination gets weight 0
// (the scheduler stops picking it, established connections carry on) and is deleted once it has
// no active connections -- and, for UDP, whose flows IPVS counts as inactive, no inactive ones
// either -- or once `bound` has passed. A destination that is wanted again before that is
// cancelled here and restored by the caller. Draining state lives in memory only; after a restart
// the reconciler finds the weight-0 destinations again and retires them anew, so nothing leaks.
// Not thread-safe; the dataplane calls it from the sync thread.
class GracefulTermination {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  GracefulTermination(IpvsHandle* handle, std::chrono::seconds bound, Clock clock = nullptr);

  // Starts draining `dest` (as last observed, with its counters) of `service`. Deletes it at once
  // when it has nothing to drain. Retiring a destination already draining changes nothing.
  KernelStatus Retire(const IpvsService& service, const IpvsDestination& dest);
  // Stops draining (the destination is desired again). Returns whether it was draining.
  bool Cancel(const IpvsServiceKey& service, const IpvsDestinationKey& dest);
  // The virtual server was deleted, and its destinations with it.
  void ForgetService(const IpvsServiceKey& service);
  bool IsDraining(const IpvsServiceKey& service, const IpvsDestinationKey& dest) const;
  size_t draining() const { return draining_.size(); }
  // The virtual servers with a destination draining (what Process may delete from).
  std::set<IpvsServiceKey> DrainingServices() const;

  // Re-reads the counters of every draining destination and deletes those that drained or ran
  // out of time. Returns the number deleted; on a kernel error the entries stay for next time.
  Result<int> Process();

  uint64_t deleted_drained() const { return deleted_drained_; }
  uint64_t deleted_at_bound() const { return deleted_at_bound_; }

 private:
  using Key = std::pair<IpvsServiceKey, IpvsDestinationKey>;
  static bool Drained(Protocol protocol, const IpvsDestination& dest);

  IpvsHandle* handle_;
  std::chrono::seconds bound_;
  Clock clock_;
  std::map<Key, std::chrono::steady_clock::time_point> draining_;  // since when
  uint64_t deleted_drained_ = 0;
  uint64_t deleted_at_bound_ = 0;
};

}  // namespace kpx
