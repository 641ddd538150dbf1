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
  uint64_t skipped_syncs = 0;  // rendering identical to the last applied one: kernel untouched
  uint64_t restore_failures = 0;
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
//  - Partial syncs rewrite the chains of the service ports in state.changed and every top-level
//    chain; other services' chains are not mentioned, so --noflush keeps them.
//  - Stale chains (ours, existing, not rendered) are flushed and deleted in the same restore.
//    Full syncs learn what exists from iptables-save; partial syncs use what was rendered last.
//  - When the full rendering is byte-identical to the last applied one, a partial sync does not
//    touch the kernel at all.
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
    std::string last_full_text;
    std::set<std::string> nat_chains;     // ours, as of the last successful restore
    std::set<std::string> filter_chains;  // ours, as of the last successful restore
  };

  Status ApplyFamily(IpFamily family, const DesiredState& state, bool full);
  Result<std::set<std::string>> ExistingChains(IpFamily family, const std::string& table);

  IptablesOptions options_;
  IptablesRenderer renderer_;
  std::unique_ptr<IptablesRunner> runner_;
  std::unique_ptr<Conntrack> conntrack_;
  ConntrackCleaner conntrack_cleaner_;
  Clock clock_;
  std::array<FamilyState, 2> families_;
  std::optional<DesiredState> previous_;  // last state applied to every family
  IptablesCounters counters_;
};

}  // namespace kpx
