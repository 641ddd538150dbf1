#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/protocol.h"
#include "base/status.h"
#include "proxier/netfilter/xt_table_blob.h"

namespace kpx {

// The x_tables socket options of one family (IPT_SO_* or IP6T_SO_*), used directly: read a
// table, edit its blob with XtTableBlob, replace it whole and carry the kept entries' counters
// over, as libiptc's commit does but without parsing the table into chain lists and compiling
// it again. Each call opens its own raw socket (needs CAP_NET_ADMIN in the caller's network
// namespace). Not thread-safe per table: x_tables itself has no transactions, see Edit.
class XtTableSocket {
 public:
  // Decides the edits for the table as it was read; nullopt when they cannot be expressed as
  // XtChainEdits (the caller then takes another path, nothing was written).
  using Planner =
      std::function<Result<std::optional<std::vector<XtChainEdit>>>(const XtTableBlob& table)>;

  // Reads `table`, plans, applies and replaces it. Returns false when the planner declined.
  // Another writer replacing the table between the read and the replace makes the kernel refuse
  // ours (the entry count no longer matches: EAGAIN); the table is then read and planned again,
  // a few times, before giving up with an error.
  static Result<bool> Edit(IpFamily family, const std::string& table, const Planner& plan);

  // Calls `use` with the table as read now.
  static Status Read(IpFamily family, const std::string& table,
                     const std::function<void(const XtTableBlob&)>& use);
};

}  // namespace kpx
