#pragma once

#include <chrono>
#include <string_view>

#include "base/status.h"
#include "proxier/core/desired_state.h"
#include "proxier/metrics/registry.h"

namespace kpx {

// The mode-specific half of a proxier: makes the kernel match a DesiredState. Called from the
// sync runner's thread only, never concurrently.
class Dataplane {
 public:
  virtual ~Dataplane() = default;
  virtual std::string_view Name() const = 0;
  // Makes the kernel match `state`. With `full` false the dataplane may rewrite only the service
  // ports in `state.changed` (and must still remove what vanished); with `full` true it rewrites
  // everything and repairs drift. Called only with state.synced true. On error nothing that was
  // working may be torn down; the caller retries with full=true.
  virtual Status Apply(const DesiredState& state, bool full) = 0;
  // Removes everything this mode has ever installed and nothing else (kpx --cleanup).
  virtual Status Cleanup() = 0;
  // Publishes the mode's own figures (rules written, restore failures, ...). Called on the sync
  // thread after every Apply, so implementations read their state without locking.
  virtual void RecordMetrics(MetricsRegistry& metrics) const {}
  // Work that must not wait for the next change (IPVS: deleting destinations that finished
  // draining). Run on the sync thread every HousekeepingInterval() between syncs; zero means the
  // mode has none. An Apply counts as housekeeping, so implementations may do it there too.
  virtual std::chrono::milliseconds HousekeepingInterval() const { return {}; }
  virtual Status Housekeep() { return Status::Ok(); }
};

}  // namespace kpx
