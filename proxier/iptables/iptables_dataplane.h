#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "proxier/dataplane.h"
#include "proxier/iptables/iptables_family_rules.h"
#include "proxier/iptables/iptables_options.h"
#include "proxier/iptables/iptables_renderer.h"
#include "proxier/netfilter/conntrack.h"
#include "proxier/netfilter/conntrack_cleaner.h"
#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

// Plain counters for the metrics layer. Rule and chain counts describe the last rendering.
struct IptablesCounters {
  uint64_t syncs = 0;          // Apply calls that reached the kernel or were skipped
  uint64_t full_syncs = 0;     // restores that rewrote every chain
  uint64_t partial_syncs = 0;  // restores that rewrote only changed services
  uint64_t skipped_syncs = 0;  // no changed service port changed a rule: kernel untouched
  uint64_t restore_failures = 0;
  uint64_t canary_missing = 0;  // periodic checks that found the canary gone (tables flushed)
  uint64_t stale_chains_deleted = 0;
  uint64_t conntrack_deletions = 0;
  uint64_t conntrack_failures = 0;
  std::array<size_t, 2> nat_rules{};     // by IpFamily
  std::array<size_t, 2> filter_rules{};  // by IpFamily
  std::array<size_t, 2> nat_chains{};    // by IpFamily
  std::chrono::nanoseconds last_sync_duration{0};
};

// The iptables mode's Dataplane: renders, then applies one iptables-restore per family.
//  - Jumps from built-in chains are ensured on full syncs only (first sync, after any failure,
//    and whenever the caller asks for full), so steady-state syncs cost one restore.
//  - Partial syncs re-render only the service ports in state.changed (IptablesFamilyRules keeps
//    every port's rendering) and write only the chains whose rules changed; the rest is not
//    mentioned, so --noflush keeps it.
//  - Stale chains (ours, existing, not rendered) are flushed and deleted in the same restore.
//    Full syncs learn what exists from iptables-save; partial syncs from the changed ports' old
//    renderings.
//  - When no changed service port changed a rule, a partial sync does not touch the kernel.
//  - A full request (the periodic resync, a retry) is a full sync only when the family needs
//    one (first sync, failure, node change), the last full sync is options.full_sync_period
//    old, or kube-proxy's canary chain (KUBE-PROXY-CANARY in mangle, created by full syncs) is
//    gone; otherwise it is partial (and usually touches nothing). Checking the canary is one
//    small iptables-save of the mangle table.
//  - After a failure the next sync of that family is full.
//  - UDP conntrack entries pointing at removed endpoints (or at a service that just got its
//    first endpoint) are deleted after a successful restore.
// Not thread-safe: called from the sync runner's thread only.
class IptablesDataplane : public Dataplane {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  IptablesDataplane(IptablesOptions options, std::unique_ptr<IptablesRunner> runner,
                    std::unique_ptr<Conntrack> conntrack, Clock clock = nullptr);

  std::string_view Name() const override { return "iptables"; }
  Status Apply(const DesiredState& state, bool full) override;
  Status Cleanup() override;
  void RecordMetrics(MetricsRegistry& metrics) const override;

  const IptablesCounters& counters() const { return counters_; }
  IptablesRunner& runner() { return *runner_; }

 private:
  struct FamilyState {
    bool needs_full = true;
    std::unique_ptr<IptablesFamilyRules> rules;  // the cached rendering
    std::optional<std::chrono::steady_clock::time_point> last_full;
  };

  Status ApplyFamily(IpFamily family, const DesiredState& state, bool full);
  // The families to apply, the one holding the most last: a whole-table runner hands a replaced
  // table's counters over once its restore has returned, holding the xtables lock, which the
  // next family's first call then waits for (~50 ms after a first sync at 10 000 x 10); after
  // the last family nothing in the sync does.
  std::vector<IpFamily> ApplyOrder(const DesiredState& state) const;
  Result<std::set<std::string>> ExistingChains(IpFamily family, const std::string& table);
  // previous_ = state, in O(changes) when `state` is the snapshot after previous_.
  void RememberApplied(const DesiredState& state);
  // Whether a full request must be a full sync: the period elapsed or the canary is gone.
  bool FullResyncDue(IpFamily family, const FamilyState& fs);

  IptablesOptions options_;
  IptablesRenderer renderer_;
  std::unique_ptr<IptablesRunner> runner_;
  std::unique_ptr<Conntrack> conntrack_;
  ConntrackCleaner conntrack_cleaner_;
  Clock clock_;
  std::array<FamilyState, 2> families_;
  std::chrono::steady_clock::time_point sync_start_{};  // of the Apply in progress
  std::optional<DesiredState> previous_;                // last state applied to every family
  IptablesCounters counters_;
};

}  // namespace kpx
