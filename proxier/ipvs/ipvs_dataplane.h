#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proxier/dataplane.h"
#include "proxier/ipvs/graceful_termination.h"
#include "proxier/ipvs/ipvs_desired_cache.h"
#include "proxier/ipvs/ipvs_handle.h"
#include "proxier/ipvs/ipvs_ipsets.h"
#include "proxier/ipvs/ipvs_options.h"
#include "proxier/ipvs/ipvs_reconciler.h"
#include "proxier/ipvs/link_handle.h"
#include "proxier/netfilter/conntrack.h"
#include "proxier/netfilter/conntrack_cleaner.h"
#include "proxier/netfilter/ipset.h"
#include "proxier/netfilter/iptables_runner.h"
#include "proxier/netfilter/sysctl.h"

namespace kpx {

// Plain counters for the metrics layer.
struct IpvsCounters {
  uint64_t syncs = 0;
  uint64_t full_syncs = 0;
  uint64_t service_ports_rebuilt = 0;  // cache entries rebuilt, over all syncs
  uint64_t operations = 0;             // IPVS/address operations applied
  uint64_t operation_failures = 0;
  uint64_t ipset_restores = 0;         // whole-set restores (full syncs)
  uint64_t ipset_element_batches = 0;  // per-element add/del batches (incremental syncs)
  uint64_t ipset_element_changes = 0;  // entries added or deleted by those batches
  uint64_t iptables_restores = 0;
  uint64_t sync_failures = 0;
  size_t last_plan_size = 0;  // operations the last sync needed (0 = kernel already matched)
  size_t virtual_servers = 0;
  size_t draining_destinations = 0;
  uint64_t conntrack_deletions = 0;
  uint64_t conntrack_failures = 0;
  std::chrono::nanoseconds last_sync_duration{0};
};

// The kernel seams the IPVS dataplane drives. All required. Shared so that tests (and a
// restarted instance in the same process) can hand the same kernel to a second dataplane.
struct IpvsSeams {
  std::shared_ptr<IpvsHandle> ipvs;
  std::shared_ptr<LinkHandle> link;
  std::shared_ptr<Ipset> ipset;
  std::shared_ptr<IptablesRunner> iptables;
  std::shared_ptr<Sysctl> sysctl;
  // Optional: without it stale UDP entries are left to time out.
  std::shared_ptr<Conntrack> conntrack;
};

// The IPVS mode's Dataplane (kube-proxy --proxy-mode=ipvs):
//  - IPVS virtual/real servers are reconciled: the kernel is listed on full syncs (the first, any
//    after a failure, and whenever the caller asks), diffed against the DesiredState, and only
//    the difference is applied. Partial syncs diff against what kpx left there last time, so a
//    steady-state sync costs no netlink round trip at all.
//  - Service IPs live on the dummy device; addresses no longer needed are removed.
//  - Removed destinations drain through GracefulTermination; ProcessGracefulTermination() (also
//    run at the end of every Apply) deletes those that drained.
//  - Only virtual servers kpx owns are touched (see OwnsVirtualServer), so a restart adopts what
//    is there: identical state means zero operations and untouched connections.
//  - Each service port's virtual servers, addresses and ipset entries are cached
//    (IpvsDesiredCache); an incremental sync rebuilds only the ports in the change set, plans
//    only over the virtual servers and addresses they touch, and adds/deletes only the ipset
//    entries whose presence changed. Full syncs (and a change of NodePort addresses) rebuild
//    and diff everything.
//  - ipsets are restored by difference on full syncs; the static iptables rules and jumps too.
//  - UDP conntrack entries left stale by a change (removed endpoints, a first endpoint) are
//    deleted, as kube-proxy's IPVS proxier does, through the shared ConntrackCleaner.
// Constructing it touches nothing; the first Apply sets sysctls, creates the dummy device and
// sets the IPVS timeouts. Not thread-safe: the sync runner's thread only.
class IpvsDataplane : public Dataplane {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  IpvsDataplane(IpvsOptions options, IpvsSeams seams, Clock clock = nullptr);

  std::string_view Name() const override { return "ipvs"; }
  Status Apply(const DesiredState& state, bool full) override;
  Status Cleanup() override;
  void RecordMetrics(MetricsRegistry& metrics) const override;

  // Deletes draining destinations that have no connections left (or ran past the bound). Runs
  // every options.graceful_termination_check between syncs (Housekeep) and in every Apply.
  Status ProcessGracefulTermination();
  std::chrono::milliseconds HousekeepingInterval() const override;
  Status Housekeep() override { return ProcessGracefulTermination(); }

  const IpvsCounters& counters() const { return counters_; }
  const GracefulTermination& graceful_termination() const { return termination_; }

 private:
  Status Initialize();
  // Reads the kernel into observed_; what is wanted comes from cache_.
  Status Observe(const std::vector<IpAddress>& node_port_ips,
                 const std::vector<IpAddress>& dummy_addresses);
  Result<std::vector<IpAddress>> LocalAddresses();
  // The plan for what one incremental update touched, from the cache and observed_.
  std::vector<IpvsOp> PlanTouched(const IpvsDesiredCache::Touched& touched,
                                  const std::set<IpAddress>& node_ips) const;
  // Applies one op, keeping observed_ in step with what the kernel now holds.
  KernelStatus Execute(const IpvsOp& op);
  // `node_port_ips`: the addresses NodePorts answer on (the SCTP NodePort sets hold them).
  Status SyncIpsets(const DesiredState& state, bool full, const std::string& element_lines,
                    size_t element_changes, const std::vector<IpAddress>& node_port_ips);
  // Writes the rules for the sets `presence` says hold entries (every family).
  Status SyncIptables(const IpsetPresence& presence);
  // Drops destinations graceful termination deleted from observed_, looking at the virtual
  // servers in `keys` (null: all). With `use_desired` false no destination counts as wanted
  // (between syncs nothing desired has weight 0).
  void ForgetDrainedDestinations(const std::set<IpvsServiceKey>* keys, bool use_desired);
  // UDP conntrack cleanup for every port changed since the last successful cleanup.
  void CleanConntrack(const DesiredState& state);
  std::vector<Cidr> node_pod_cidrs_;  // the Node object's, as last rendered into iptables
  // The sets whose rules are in iptables now (none: not written, or a write failed).
  std::optional<IpsetPresence> rules_presence_;

  IpvsOptions options_;
  IpvsSeams seams_;
  Clock clock_;
  GracefulTermination termination_;
  bool initialized_ = false;
  bool needs_full_ = true;
  ObservedIpvs observed_;  // the kernel as of the last sync
  std::vector<IpAddress> local_addresses_;
  IpvsCounters counters_;
  ConntrackCleaner conntrack_cleaner_;
  IpvsDesiredCache cache_;
  uint64_t cache_generation_ = 0;  // the snapshot the cache was last brought up to
  // Ports changed since conntrack was last cleaned, with the state they had then (null: absent).
  // Replaces a copy of the whole previous snapshot: only what the cleaner reads is kept.
  // In order of arrival, a name possibly more than once (the first is the state it had then):
  // one array, not a tree node per port alive through a full sync's kernel work.
  std::vector<std::pair<ServicePortName, ServicePortStatePtr>> conntrack_before_;
};

}  // namespace kpx
