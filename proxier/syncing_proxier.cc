#include "proxier/syncing_proxier.h"

#include <glog/logging.h>
#include <malloc.h>

#include <chrono>

#include "base/helper_cpu.h"
#include "base/rfc3339.h"
#include "base/thread_cpu_clock.h"

namespace kpx {

namespace {

constexpr const char* kTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";

// A partial sync this long (in seconds) is followed by malloc_trim, as every full sync is.
constexpr double kTrimAfter = 0.05;

// kube-proxy's buckets for the network programming latency, so dashboards' quantiles agree:
// 0.25 s and 0.5 s, every second to 59 s, every 5 s to 115 s, every 30 s to 5 min.
std::vector<double> NetworkProgrammingBuckets() {
  std::vector<double> b = {0.25, 0.5};
  for (int s = 1; s <= 59; ++s) b.push_back(s);
  for (int s = 60; s <= 115; s += 5) b.push_back(s);
  for (int s = 120; s <= 300; s += 30) b.push_back(s);
  return b;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The mode's housekeeping interval, unless the caller chose one.
BoundedFrequencyRunner::Options WithHousekeeping(BoundedFrequencyRunner::Options o,
                                                 const Dataplane& dataplane) {
  if (o.tick_interval.count() == 0) o.tick_interval = dataplane.HousekeepingInterval();
  return o;
}

}  // namespace

SyncingProxier::SyncingProxier(Options options, Dataplane& dataplane, const Clock& clock,
                               MetricsRegistry& metrics)
    : options_(std::move(options)),
      dataplane_(dataplane),
      clock_(clock),
      metrics_(metrics),
      runner_(
          WithHousekeeping(options_.runner, dataplane), clock_,
          [this](bool periodic) { return SyncInternal(periodic); }, [this] { Housekeep(); }),
      builder_(options_.node_name),
      start_wall_(options_.started.value_or(std::chrono::system_clock::now())) {
  const auto buckets = MetricsRegistry::ExponentialBuckets(0.001, 2, 15);
  sync_duration_ = metrics.GetHistogram("kubeproxy_sync_proxy_rules_duration_seconds",
                                        "SyncProxyRules latency in seconds", buckets);
  full_sync_duration_ =
      metrics.GetHistogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                           "SyncProxyRules latency in seconds for full resyncs", buckets);
  partial_sync_duration_ =
      metrics.GetHistogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                           "SyncProxyRules latency in seconds for partial resyncs", buckets);
  // From 50 us: a one-endpoint sync's own CPU is well under a millisecond in most modes.
  const auto cpu_buckets = MetricsRegistry::ExponentialBuckets(0.00005, 2, 18);
  const std::string cpu_help =
      "CPU time per sync (user and system) of the sync thread and of the helper threads it waited "
      "for, by kind of sync";
  full_sync_cpu_ = metrics.GetHistogram("kpx_sync_proxy_rules_cpu_seconds", cpu_help, cpu_buckets,
                                        {{"sync", "full"}});
  partial_sync_cpu_ = metrics.GetHistogram("kpx_sync_proxy_rules_cpu_seconds", cpu_help,
                                           cpu_buckets, {{"sync", "partial"}});
  network_programming_duration_ = metrics.GetHistogram(
      "kubeproxy_network_programming_duration_seconds",
      "In Cluster Network Programming Latency in seconds", NetworkProgrammingBuckets());
  last_sync_timestamp_ = metrics.GetGauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                                          "The last time proxy rules were successfully synced");
  last_queued_timestamp_ =
      metrics.GetGauge("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                       "The last time a sync of proxy rules was queued");
  service_changes_total_ = metrics.GetCounter("kubeproxy_sync_proxy_rules_service_changes_total",
                                              "Cumulative proxy rules Service changes");
  endpoint_changes_total_ = metrics.GetCounter("kubeproxy_sync_proxy_rules_endpoint_changes_total",
                                               "Cumulative proxy rules Endpoint changes");
  service_changes_pending_ = metrics.GetGauge("kubeproxy_sync_proxy_rules_service_changes_pending",
                                              "Pending proxy rules Service changes");
  endpoint_changes_pending_ =
      metrics.GetGauge("kubeproxy_sync_proxy_rules_endpoint_changes_pending",
                       "Pending proxy rules Endpoint changes");
  sync_failures_total_ = metrics.GetCounter("kpx_sync_proxy_rules_failures_total",
                                            "Syncs whose dataplane apply failed");
  invalid_trigger_times_total_ = metrics.GetCounter(
      "kpx_endpointslice_invalid_trigger_time_total",
      "EndpointSlices whose endpoints.kubernetes.io/last-change-trigger-time is not RFC 3339 "
      "(left out of kubeproxy_network_programming_duration_seconds)");
}

void SyncingProxier::NoteTriggerTimeLocked(const EndpointSlice& slice) {
  const auto it = slice.meta.annotations.find(kTriggerTimeAnnotation);
  if (it == slice.meta.annotations.end()) return;
  const auto t = ParseRfc3339(it->second);
  if (!t) {
    LOG(WARNING) << "endpointslice " << slice.meta.Key() << ": " << kTriggerTimeAnnotation << " \""
                 << it->second
                 << "\" is not an RFC 3339 time; left out of the network programming latency";
    invalid_trigger_times_total_->Inc();
    return;
  }
  if (*t <= start_wall_) return;
  pending_triggers_[slice.meta.namespace_ + "/" + slice.service_name].push_back(*t);
}

void SyncingProxier::Changed(bool service_change) {
  last_queued_timestamp_->Set(WallSeconds());
  {
    std::lock_guard lock(mu_);
    if (!oldest_pending_) oldest_pending_ = clock_.Now();
    if (service_change) {
      service_changes_total_->Inc();
      service_changes_pending_->Set(++pending_service_changes_);
    } else {
      endpoint_changes_total_->Inc();
      endpoint_changes_pending_->Set(++pending_endpoint_changes_);
    }
    if (!AllSyncedLocked()) return;  // the synced callback requests the first sync
  }
  runner_.Request();
}

void SyncingProxier::OnServiceAdd(const Service& service) {
  VLOG(4) << "service added: " << service.meta.Key();
  {
    std::lock_guard lock(mu_);
    builder_.UpdateService(service);
  }
  Changed(true);
}

void SyncingProxier::OnServiceUpdate(const Service&, const Service& service) {
  VLOG(4) << "service updated: " << service.meta.Key();
  {
    std::lock_guard lock(mu_);
    builder_.UpdateService(service);
  }
  Changed(true);
}

void SyncingProxier::OnServiceDelete(const Service& service) {
  VLOG(4) << "service deleted: " << service.meta.Key();
  {
    std::lock_guard lock(mu_);
    builder_.DeleteService(service);
  }
  Changed(true);
}

void SyncingProxier::OnEndpointSliceAdd(const EndpointSlice& slice) {
  VLOG(4) << "endpointslice added: " << slice.meta.Key();
  {
    std::lock_guard lock(mu_);
    builder_.AddEndpointSlice(slice);
    NoteTriggerTimeLocked(slice);
  }
  Changed(false);
}

void SyncingProxier::OnEndpointSliceUpdate(const EndpointSlice& old_slice,
                                           const EndpointSlice& slice) {
  VLOG(4) << "endpointslice updated: " << slice.meta.Key();
  {
    std::lock_guard lock(mu_);
    builder_.UpdateEndpointSlice(old_slice, slice);
    // An update that changes nothing (a relist) carries the old stamp of an applied change.
    if (!(old_slice == slice)) NoteTriggerTimeLocked(slice);
  }
  Changed(false);
}

void SyncingProxier::OnEndpointSliceDelete(const EndpointSlice& slice) {
  VLOG(4) << "endpointslice deleted: " << slice.meta.Key();
  {
    std::lock_guard lock(mu_);
    builder_.DeleteEndpointSlice(slice);
    pending_triggers_.erase(slice.meta.namespace_ + "/" + slice.service_name);
  }
  Changed(false);
}

void SyncingProxier::OnNodeAdd(const Node& node) {
  {
    std::lock_guard lock(mu_);
    builder_.UpdateNode(node);
  }
  Changed(false);
}

void SyncingProxier::OnNodeUpdate(const Node&, const Node& node) { OnNodeAdd(node); }

void SyncingProxier::OnNodeDelete(const Node&) {
  {
    std::lock_guard lock(mu_);
    builder_.DeleteNode();
  }
  Changed(false);
}

void SyncingProxier::MarkSynced(bool SyncingProxier::*flag) {
  bool all;
  {
    std::lock_guard lock(mu_);
    this->*flag = true;
    all = AllSyncedLocked();
  }
  if (all) runner_.Request();
}

void SyncingProxier::OnServiceSynced() { MarkSynced(&SyncingProxier::services_synced_); }

void SyncingProxier::OnEndpointSliceSynced() { MarkSynced(&SyncingProxier::slices_synced_); }

void SyncingProxier::OnNodeSynced() { MarkSynced(&SyncingProxier::node_synced_); }

bool SyncingProxier::Sync() { return SyncInternal(false); }

bool SyncingProxier::SyncInternal(bool periodic) {
  std::lock_guard sync_lock(sync_mu_);
  DesiredState state;
  bool full;
  std::optional<Clock::TimePoint> pending_since;
  std::map<std::string, std::vector<std::chrono::system_clock::time_point>> triggers;
  const auto thread_cpu = options_.thread_cpu ? options_.thread_cpu
                                              : [] { return ThreadCpuTime() + HelperCpu::Total(); };
  Clock::TimePoint start;
  std::chrono::nanoseconds cpu_start{};
  {
    std::lock_guard lock(mu_);
    if (!AllSyncedLocked()) {
      VLOG(2) << "not syncing: waiting for the initial listing of services, slices and node";
      return true;
    }
    // Timed from here, as kube-proxy times its sync from before it folds the pending changes
    // into its maps: building the desired state is part of the sync's cost (a first sync's
    // 10 000 service ports take tens of ms).
    start = clock_.Now();
    cpu_start = thread_cpu();
    builder_.SetSynced(true);
    state = builder_.Snapshot();
    full = need_full_sync_ || periodic;
    pending_since = std::exchange(oldest_pending_, std::nullopt);
    triggers = std::exchange(pending_triggers_, {});
    pending_service_changes_ = pending_endpoint_changes_ = 0;
    service_changes_pending_->Set(0);
    endpoint_changes_pending_->Set(0);
  }
  const Status st = dataplane_.Apply(state, full);
  const double cpu_seconds = std::chrono::duration<double>(thread_cpu() - cpu_start).count();
  const auto end = clock_.Now();
  dataplane_.RecordMetrics(metrics_);
  const double seconds = std::chrono::duration<double>(end - start).count();
  sync_duration_->Observe(seconds);
  (full ? full_sync_duration_ : partial_sync_duration_)->Observe(seconds);
  (full ? full_sync_cpu_ : partial_sync_cpu_)->Observe(cpu_seconds);

  std::unique_lock lock(mu_);
  if (!st.ok()) {
    LOG(ERROR) << dataplane_.Name() << " sync failed (" << state.changed.size()
               << " changed service ports), retrying with a full sync: " << st.message();
    sync_failures_total_->Inc();
    need_full_sync_ = true;
    // The changes are still unapplied; keep the oldest arrival time for the next attempt.
    if (pending_since && (!oldest_pending_ || *pending_since < *oldest_pending_)) {
      oldest_pending_ = pending_since;
    }
    // Likewise their trigger times: the latency runs until a sync applies them.
    for (auto& [service, times] : triggers) {
      auto& pending = pending_triggers_[service];
      pending.insert(pending.end(), times.begin(), times.end());
    }
    // The snapshot's change set is lost with it; the forced full sync covers it.
    lock.unlock();
    if (full) malloc_trim(0);  // as after a successful full sync, below
    return false;
  }
  need_full_sync_ = false;
  last_success_ = end;
  last_success_wall_ = std::chrono::system_clock::now();
  last_sync_timestamp_->Set(WallSeconds());
  const auto now_wall = std::chrono::system_clock::now();
  for (const auto& [service, times] : triggers) {
    for (const auto t : times) {
      const double latency = std::chrono::duration<double>(now_wall - t).count();
      network_programming_duration_->Observe(latency);
      // As kube-proxy's V(4) "Network programming" line: the exact figure behind the buckets.
      VLOG(4) << "network programming of " << service << " took " << latency << " s";
    }
  }
  VLOG(2) << dataplane_.Name() << (full ? " full" : " partial") << " sync of "
          << state.services.size() << " service ports (" << state.changed.size()
          << " changed) took " << seconds * 1000 << " ms, CPU " << cpu_seconds * 1000 << " ms";
  auto applied = std::make_shared<DesiredState>(std::move(state));
  lock.unlock();
  if (options_.on_applied) options_.on_applied(*applied);
  // The change set served the callback. The snapshot kept afterwards never needs it, and after
  // a full sync it names every port (1.4 MB at 10 000 Services, kept until the next sync).
  applied->changed.clear();
  lock.lock();
  last_applied_ = std::move(applied);
  lock.unlock();
  // A full sync allocates and frees transient copies as large as the ruleset; glibc keeps freed
  // heap by default, which showed as hundreds of MiB of RSS after the first sync at 10 000
  // services. Hand it back (outside the measured sync time), once the snapshot's change set and
  // the previous snapshot are gone too: after a first sync the change set names every port.
  // A long partial sync is trimmed too: the whole-table iptables runners allocate table-sized
  // transients on every sync, which glibc serves from the heap the first sync freed and then
  // keeps (+38 MiB of RSS over the first two edits at 10 000 x 10, libiptc). The trim costs a
  // few milliseconds there; a sync shorter than kTrimAfter is not made to pay for it.
  if (full || seconds >= kTrimAfter) malloc_trim(0);
  return true;
}

void SyncingProxier::Housekeep() {
  std::lock_guard sync_lock(sync_mu_);
  {
    std::lock_guard lock(mu_);
    // Nothing was programmed yet, so there is nothing to look after.
    if (!last_applied_) return;
  }
  if (Status st = dataplane_.Housekeep(); !st.ok()) {
    LOG(WARNING) << dataplane_.Name() << " housekeeping failed: " << st.message();
  }
  dataplane_.RecordMetrics(metrics_);
}

void SyncingProxier::Run() { runner_.Loop(); }

void SyncingProxier::Stop() { runner_.Stop(); }

std::optional<Clock::TimePoint> SyncingProxier::LastSuccessfulSync() const {
  std::lock_guard lock(mu_);
  return last_success_;
}

std::optional<std::chrono::system_clock::time_point> SyncingProxier::LastSuccessfulSyncWall()
    const {
  std::lock_guard lock(mu_);
  return last_success_wall_;
}

std::optional<Clock::TimePoint> SyncingProxier::OldestPendingChange() const {
  std::lock_guard lock(mu_);
  return oldest_pending_;
}

std::shared_ptr<const DesiredState> SyncingProxier::LastApplied() const {
  std::lock_guard lock(mu_);
  return last_applied_;
}

}  // namespace kpx
