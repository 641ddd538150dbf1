#pragma once

#include <cstdint>
#include <set>

#include "base/protocol.h"
#include "proxier/core/desired_state.h"
#include "proxier/netfilter/conntrack.h"

namespace kpx {

class MetricsRegistry;

// Deletes the UDP conntrack entries a change of desired state leaves stale, for every mode. UDP
// has no teardown, so without this a client keeps sending to an endpoint that is gone (or into
// the reject path of a service that just got its first endpoint) until its entry times out, as
// kube-proxy's conntrack cleanup explains. Fed by the change set, so a sync costs work per
// changed service port, not per service.
//
// Not thread-safe: the sync thread only.
class ConntrackCleaner {
 public:
  // `conntrack` may be null (cleanup disabled); it must outlive the cleaner.
  explicit ConntrackCleaner(Conntrack* conntrack) : conntrack_(conntrack) {}

  // The service ports whose state differs between `before` (the last snapshot this mode applied,
  // or null) and `after`: `after.changed` when `after` is the very next snapshot, otherwise every
  // port whose entry pointer differs (after a failed sync the change sets in between are lost).
  static std::set<ServicePortName> ChangedBetween(const DesiredState* before,
                                                  const DesiredState& after);
  // Whether `after.changed` is exactly what ChangedBetween would compute, or a superset naming
  // only ports absent from both: the very next snapshot, or a first sync whose change set names
  // every port. Then a caller uses it as it is: after a full sync at 100 000 Services a copy
  // was 100 000 tree nodes, freed after the dataplane had allocated its own structures above
  // them, which left 8 MB of holes in the heap.
  static bool ChangeSetIsExact(const DesiredState* before, const DesiredState& after);
  // ChangedBetween without the copy: `after.changed` itself when it is exact, else the computed
  // set, held in `*storage`.
  static const std::set<ServicePortName>& ChangesToApply(const DesiredState* before,
                                                         const DesiredState& after,
                                                         std::set<ServicePortName>* storage);

  // Deletes, for UDP service ports in `names`, the entries that DNAT to endpoints no longer
  // reachable and, for a port that got its first endpoint, the entries created while it had none.
  // All of them in one Conntrack call (one pass over the kernel's table).
  void Clean(IpFamily family, const DesiredState* before, const DesiredState& after,
             const std::set<ServicePortName>& names);

  // Entries the kernel deleted, and the filters of calls that failed.
  uint64_t deletions() const { return deletions_; }
  uint64_t failures() const { return failures_; }
  // kpx_conntrack_entries_deleted_total and kpx_conntrack_failures_total, the same in every mode.
  void RecordMetrics(MetricsRegistry& metrics) const;

 private:
  Conntrack* conntrack_;
  uint64_t deletions_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace kpx
