#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "proxier/core/desired_state.h"
#include "proxier/core/state_builder.h"
#include "proxier/dataplane.h"
#include "proxier/metrics/registry.h"
#include "proxier/proxier.h"
#include "proxier/runner/bounded_frequency_runner.h"
#include "proxier/runner/clock.h"

namespace kpx {

// The Proxier every mode shares: folds events into a StateBuilder, and from the runner's thread
// snapshots the desired state and hands it to the mode's Dataplane. Nothing reaches the kernel
// before every source has reported its initial listing.
//
// Thread-safety: handler methods may be called from any thread; Sync() runs on one thread at a
// time (the runner's, or the caller's before Run()).
class SyncingProxier final : public Proxier {
 public:
  struct Options {
    std::string node_name;
    BoundedFrequencyRunner::Options runner;
    // Called on the sync thread after every successful apply (health-check node ports).
    std::function<void(const DesiredState&)> on_applied;
    // When kpx started (wall clock): slice trigger times before it are left out of the network
    // programming latency. Unset: when the proxier is constructed.
    std::optional<std::chrono::system_clock::time_point> started;
    // CPU time so far of the sync thread and the helpers it hands work to (ThreadCpuTime plus
    // HelperCpu::Total unless set; tests count their own).
    std::function<std::chrono::nanoseconds()> thread_cpu;
  };
  SyncingProxier(Options options, Dataplane& dataplane, const Clock& clock,
                 MetricsRegistry& metrics);

  void OnServiceAdd(const Service& service) override;
  void OnServiceUpdate(const Service& old_service, const Service& service) override;
  void OnServiceDelete(const Service& service) override;
  void OnServiceSynced() override;
  void OnEndpointSliceAdd(const EndpointSlice& slice) override;
  void OnEndpointSliceUpdate(const EndpointSlice& old_slice, const EndpointSlice& slice) override;
  void OnEndpointSliceDelete(const EndpointSlice& slice) override;
  void OnEndpointSliceSynced() override;
  void OnNodeAdd(const Node& node) override;
  void OnNodeUpdate(const Node& old_node, const Node& node) override;
  void OnNodeDelete(const Node& node) override;
  void OnNodeSynced() override;

  bool Sync() override;
  void Run() override;
  // One step of what Run() loops over: a sync or a housekeeping tick if one is due on the clock
  // (see BoundedFrequencyRunner::RunIfDue). For tests driving a fake clock.
  bool RunIfDue(Clock::TimePoint* wake_at) { return runner_.RunIfDue(wake_at); }
  void Stop() override;

  // For /healthz: when the last successful sync finished, and when the oldest change not yet
  // applied arrived (empty when nothing is pending).
  std::optional<Clock::TimePoint> LastSuccessfulSync() const;
  std::optional<std::chrono::system_clock::time_point> LastSuccessfulSyncWall() const;
  std::optional<Clock::TimePoint> OldestPendingChange() const;
  // The last snapshot applied successfully (for status printing and tests), without its change
  // set.
  std::shared_ptr<const DesiredState> LastApplied() const;

 private:
  bool SyncInternal(bool periodic);
  // The dataplane's work between syncs, on the runner's thread.
  void Housekeep();
  void Changed(bool service_change);
  // Keeps the slice's endpoints.kubernetes.io/last-change-trigger-time for the network
  // programming latency, as kube-proxy does. Requires mu_.
  void NoteTriggerTimeLocked(const EndpointSlice& slice);
  // Records that one source kind finished its initial listing; the last one requests a sync.
  void MarkSynced(bool SyncingProxier::*flag);
  bool AllSyncedLocked() const { return services_synced_ && slices_synced_ && node_synced_; }

  const Options options_;
  Dataplane& dataplane_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  BoundedFrequencyRunner runner_;

  mutable std::mutex mu_;  // guards everything below
  StateBuilder builder_;
  bool services_synced_ = false;
  bool slices_synced_ = false;
  bool node_synced_ = false;
  std::optional<Clock::TimePoint> oldest_pending_;
  std::optional<Clock::TimePoint> last_success_;
  std::optional<std::chrono::system_clock::time_point> last_success_wall_;
  std::shared_ptr<const DesiredState> last_applied_;
  // kubeproxy_network_programming_duration_seconds runs from the time the EndpointSlice
  // controller stamped on a change to the sync that applied it (kube-proxy: the
  // last-change-trigger-time annotation), per service "namespace/name". Stamps from before kpx
  // started are changes made while it was not running (the initial listing), left out as
  // kube-proxy does; deleting a slice drops its service's stamps (its annotation says when the
  // slice was last updated, not when it was deleted).
  const std::chrono::system_clock::time_point start_wall_;
  std::map<std::string, std::vector<std::chrono::system_clock::time_point>> pending_triggers_;
  bool need_full_sync_ = true;
  std::mutex sync_mu_;  // serialises Sync()

  // kube-proxy's metric names, so existing dashboards keep working.
  MetricsRegistry::Histogram* sync_duration_;
  MetricsRegistry::Histogram* full_sync_duration_;
  MetricsRegistry::Histogram* partial_sync_duration_;
  MetricsRegistry::Histogram* network_programming_duration_;
  // kpx's own: the sync thread's CPU per sync (work proportional to what changed shows here,
  // apart from the kernel's and the machine's other load, which the durations include).
  MetricsRegistry::Histogram* full_sync_cpu_;
  MetricsRegistry::Histogram* partial_sync_cpu_;
  MetricsRegistry::Gauge* last_sync_timestamp_;
  MetricsRegistry::Gauge* last_queued_timestamp_;
  MetricsRegistry::Counter* service_changes_total_;
  MetricsRegistry::Counter* endpoint_changes_total_;
  MetricsRegistry::Gauge* service_changes_pending_;
  MetricsRegistry::Gauge* endpoint_changes_pending_;
  MetricsRegistry::Counter* sync_failures_total_;
  MetricsRegistry::Counter* invalid_trigger_times_total_;
  double pending_service_changes_ = 0;
  double pending_endpoint_changes_ = 0;
};

}  // namespace kpx
