#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/protocol.h"
#include "base/status.h"
#include "proxier/netfilter/xt_counters_hand_over.h"
#include "proxier/netfilter/xt_table_blob.h"

namespace kpx {

// The x_tables socket options of one family (IPT_SO_* or IP6T_SO_*), used directly: read a
// table, edit its blob with XtTableBlob, replace it whole and carry the kept entries' counters
// over, as libiptc's commit does but without parsing the table into chain lists and compiling
// it again. Each call opens its own raw socket (needs CAP_NET_ADMIN in the caller's network
// namespace). Not thread-safe; x_tables itself has no transactions, see Edit.
//
// It keeps each table it wrote (bytes and split), so the next edit starts from that instead of
// reading the table back (IPT_SO_GET_ENTRIES: at 10 000 Services x 10 endpoints a 105 MB copy
// out of the kernel, a quarter of a sync) and parsing it. x_tables has no generation number,
// so the kept copy is only used while nothing says another writer touched the table:
// - IPT_SO_GET_INFO, which costs nothing, still gives the table's size, entry count and hook
//   offsets: any rule added or removed by anyone changes them;
// - `others_may_have_written`, the xtables lock's watch: every iptables-legacy process opens
//   the lock file, so a same-size rewrite by one (iptables -R, a restore) is noticed too;
// - the kernel refuses a replace whose entry count is not the table's (EAGAIN), so a write
//   racing ours is never overwritten;
// - and a kept copy is read back anyway once it is `trust_kept_for` old, which bounds how long
//   a same-size rewrite by a writer that ignores the lock could be undone by kpx's next write.
class XtTableSocket {
 public:
  struct Options {
    std::chrono::steady_clock::duration trust_kept_for = std::chrono::seconds(60);
    // True when another process may have written x_tables since the previous call. Unset:
    // only the checks above that need no watch apply.
    std::function<bool()> others_may_have_written;
    // False keeps nothing: every edit reads the table back (what kpx did before).
    bool keep_tables = true;
    // True leaves each replace's counters hand-over to the caller (TakePendingCounters), which
    // makes it once the sync has returned and before the table is written again.
    bool defer_counters = false;
  };
  struct Stats {
    uint64_t reads = 0;         // edits that read the table back from the kernel
    uint64_t kept_uses = 0;     // edits that started from the kept copy
    uint64_t kept_dropped = 0;  // kept copies found stale (info changed, watch fired, too old)
  };

  // Decides the edits for the table as it was read; nullopt when they cannot be expressed as
  // XtChainEdits (the caller then takes another path, nothing was written).
  using Planner =
      std::function<Result<std::optional<std::vector<XtChainEdit>>>(const XtTableBlob& table)>;

  XtTableSocket() = default;
  explicit XtTableSocket(const Options& options) : options_(options) {}
  XtTableSocket(const XtTableSocket&) = delete;
  XtTableSocket& operator=(const XtTableSocket&) = delete;

  // Plans on `table` as it is (the kept copy or a fresh read), applies and replaces it. Returns
  // false when the planner declined. Another writer replacing the table between the read and
  // the replace makes the kernel refuse ours (the entry count no longer matches: EAGAIN); the
  // table is then read and planned again, a few times, before giving up with an error.
  // `spent`: the arena the planner encodes the edits' rules into, if it does (see
  // XtTableBlob::Apply).
  Result<bool> Edit(IpFamily family, const std::string& table, const Planner& plan,
                    XtRuleArena* spent = nullptr);

  // Calls `use` with the table as read now (never the kept copy).
  static Status Read(IpFamily family, const std::string& table,
                     const std::function<void(const XtTableBlob&)>& use);

  // Drops the kept copy of one table: its next edit reads it back. For writes that bypass this
  // object (libiptc commits in the same process).
  void Forget(IpFamily family, const std::string& table);

  // Sets Options::others_may_have_written.
  void Watch(std::function<bool()> others_may_have_written) {
    options_.others_may_have_written = std::move(others_may_have_written);
  }

  // The counters hand-overs of the replaces made since the last call, with defer_counters: the
  // caller must Run() them, in order, before anything writes those tables again, still holding
  // the xtables lock it held for the replaces.
  std::vector<XtCountersHandOver> TakePendingCounters();

  const Stats& stats() const { return stats_; }

 private:
  struct Kept {
    XtBuffer buffer;  // headroom, then the entries `table` points into
    std::optional<XtTableBlob> table;
    std::chrono::steady_clock::time_point read_at;  // when this content was last read back
  };
  template <typename F>
  Result<bool> EditFamily(const std::string& table, const Planner& plan, XtRuleArena* spent);
  // The kept copy of `table` if it may still be trusted, else nullptr (and it is dropped).
  template <typename F>
  Kept* Trusted(int fd, const std::string& table);

  Options options_;
  Stats stats_;
  std::map<std::pair<IpFamily, std::string>, Kept> kept_;
  std::vector<XtCountersHandOver> pending_;
};

}  // namespace kpx
