#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/page_allocator.h"
#include "base/status.h"

namespace kpx {

// The second half of a commit that keeps counters, as libiptc's: after SO_SET_REPLACE handed
// back the old table's counters, each entry the new table kept from the old one gets its count
// back (SO_SET_ADD_COUNTERS), so the rules kpx did not change, and other writers' rules, do not
// restart from zero. The rules are in force once the replace returned; this call only carries
// statistics, and it walks every entry of the table (65-100 ms at 10 000 x 10). So it may be
// made after the sync that replaced the table has returned, but before anything writes that
// table again (under the same xtables lock as the replace: another writer's replace in between
// would get counts meant for other entries).
class XtCountersHandOver {
 public:
  // The kernel's struct xt_counters, whose header this one keeps to itself (its in.h clashes
  // with glibc's unless glibc's comes first); the layout is checked where both are seen.
  struct Count {
    uint64_t packets = 0;
    uint64_t bytes = 0;
  };
  using Counters = std::vector<Count, PageAllocator<Count>>;
  static constexpr uint32_t kNew = UINT32_MAX;

  // `old`: the counters the replace handed back, by old entry; `old_index`: per new entry, the
  // old entry it was copied from, or kNew. `level` and `option`: the family's
  // (IPPROTO_IP, IPT_SO_SET_ADD_COUNTERS) or (IPPROTO_IPV6, IP6T_SO_SET_ADD_COUNTERS), on a raw
  // socket of `domain`.
  XtCountersHandOver(int domain, int level, int option, std::string table, Counters old,
                     std::vector<uint32_t> old_index);

  // Whether a kept entry has counted anything: adding zeros changes nothing, and a table no
  // packet has reached yet (a first sync's) skips the call and the 8.6 MB request.
  bool needed() const;
  // Makes the call on a socket of its own when needed(); whether it did. An error loses only
  // statistics (someone replaced the table again in between: the kernel refuses a count that
  // does not match its entries).
  Result<bool> Run() const;
  const std::string& table() const { return table_; }

 private:
  int domain_;
  int level_;
  int option_;
  std::string table_;
  Counters old_;
  std::vector<uint32_t> old_index_;
};

}  // namespace kpx
