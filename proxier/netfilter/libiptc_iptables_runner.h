#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "proxier/netfilter/iptables_runner.h"
#include "proxier/netfilter/xt_table_socket.h"
#include "proxier/netfilter/xtables_lock.h"

namespace kpx {

// IptablesRunner for the legacy (x_tables) backend, in process: each restore section is parsed
// with RestoreText/RuleSpec (we own the format on both ends) and replaces its table in one
// SO_SET_REPLACE, so it is atomic per table like iptables-legacy-restore, without a fork per
// sync. A section that only declares, fills and deletes user chains (all kpx's syncs) is applied
// by editing the table's blob directly (XtTableSocket, XtTableBlob): libiptc would parse the whole
// table into chain lists and compile it again, which is most of a large table's sync and
// quadratic in the chains created. Sections touching built-in chains or deleting single rules,
// and the jump and chain-deletion calls, go through libiptc.
//
// Every call that writes holds the xtables lock (Options::lock_path) from its read to its
// replace, as iptables-legacy does, so the two never interleave on a table.
//
// Supports exactly the rule vocabulary kpx renders: -s/-d/-p/-i with negation; matches comment,
// tcp/udp/sctp --dport, addrtype --src-type/--dst-type, statistic random, recent, mark,
// conntrack --ctstate; targets ACCEPT/DROP/RETURN, chain jumps, MARK, DNAT, MASQUERADE, REJECT.
// Anything else fails the restore with a clear error. Save() lists chains and policies only
// (no rules), read from the blob: the dataplane needs chain names, and rules would need decoding
// every extension.
class LibiptcIptablesRunner : public IptablesRunner {
 public:
  // How restore sections were applied, for logs and tests.
  struct Stats {
    uint64_t edited_sections = 0;    // by editing the table's blob
    uint64_t libiptc_sections = 0;   // through libiptc
    uint64_t deferred_restores = 0;  // restores whose counters went over after they returned
  };
  struct Options {
    // False applies every section through libiptc: the path the blob editor replaces, kept
    // selectable so tests and benchmarks compare the two on the same input.
    bool edit_blobs = true;
    // How the blob editor keeps the tables it wrote between syncs (XtTableSocket). Unless set
    // here, its watch for other writers is the lock's.
    XtTableSocket::Options tables;
    // The lock file iptables-legacy takes around every read-modify-write of a table; every call
    // of this runner holds it too. Empty takes no lock (then nothing watches for other writers
    // either, and a kept table is trusted on its info and age alone).
    std::string lock_path = XtablesLock::DefaultPath();
    // kube-proxy runs iptables-restore with -w 5.
    std::chrono::milliseconds lock_wait{5000};
    // A restore returns once its tables are replaced, and the kept rules' counters are handed
    // over to the new tables on a thread of their own while kpx goes on (65-100 ms at 10 000 x
    // 10: the call walks every entry). That thread holds the xtables lock until it is done, as
    // iptables-restore holds it over both calls, and every later call of this runner waits for
    // it first. False makes the hand-over inside the restore, as libiptc's commit does.
    bool defer_counters = true;
  };
  LibiptcIptablesRunner();
  explicit LibiptcIptablesRunner(const Options& options);
  ~LibiptcIptablesRunner() override;
  std::string_view Name() const override { return "libiptc"; }
  Status Restore(IpFamily family, std::string_view text) override;
  // Reads the pieces where they lie: a full sync's chain texts are encoded from the renderer's
  // own copy.
  using IptablesRunner::RestoreInPieces;
  Status RestoreInPieces(IpFamily family, std::span<const std::string_view> pieces,
                         std::span<const uint8_t> rules_only) override;
  bool ReadsPieces() const override { return true; }
  Result<std::string> Save(IpFamily family, std::string_view table) override;
  Result<bool> EnsureJump(IpFamily family, const JumpRule& rule) override;
  Result<std::vector<bool>> EnsureJumps(IpFamily family, std::span<const JumpRule> rules) override;
  Result<bool> DeleteJump(IpFamily family, const JumpRule& rule) override;
  Status DeleteChains(IpFamily family, std::string_view table,
                      const std::vector<std::string>& chains) override;
  // kpx_iptables_table_edits_total{start="kept"|"read"} and
  // kpx_iptables_kept_tables_dropped_total: how often syncs could skip reading a table back.
  void RecordMetrics(MetricsRegistry& metrics) const override;
  const Stats& stats() const { return stats_; }
  const XtTableSocket::Stats& table_stats() const { return tables_.stats(); }
  // Waits until the last restore's counters are handed over (Options::defer_counters). Every
  // call of this runner does that first; for anyone else reading the counters.
  void FinishCounters();

 private:
  // Holds the xtables lock for one call; nullopt when the runner takes none.
  Result<std::optional<XtablesLock::Guard>> Lock();
  // Lock() for a call that commits through libiptc, which writes `table` behind its kept copy's
  // back: the copy is forgotten.
  Result<std::optional<XtablesLock::Guard>> LockForLibiptc(IpFamily family,
                                                           const std::string& table);

  bool edit_blobs_;
  bool defer_counters_;
  Stats stats_;
  std::unique_ptr<XtablesLock> lock_;  // before tables_, whose watch asks it
  std::chrono::milliseconds lock_wait_;
  XtTableSocket tables_;
  // Runs handing_over_ and then releases handing_over_lock_: on counters_, or at once without
  // defer_counters or a thread. Nothing else touches either member until counters_ is joined.
  void HandOverCounters();
  std::vector<XtCountersHandOver> handing_over_;
  std::optional<XtablesLock::Guard> handing_over_lock_;
  std::thread counters_;
  std::atomic<uint64_t> counters_failures_{0};
};

}  // namespace kpx
