#pragma once

#include <optional>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"
#include "proxier/netfilter/restore_section.h"
#include "proxier/netfilter/xt_rule_arena.h"
#include "proxier/netfilter/xt_table_blob.h"

namespace kpx {

// A restore section as edits of user chains, with libiptc's --noflush semantics: a declared
// chain is flushed or created, -N creates (and fails on an existing chain), -F flushes, -X
// deletes an empty chain, -A/-I add to an existing one. No edits (nullopt) when the section
// declares or changes a built-in chain, deletes single rules, or declares a chain after a
// command: the libiptc path takes those, in line order as iptables-restore does (here,
// declarations are all read before the edits). Pure: the table is only asked what it holds.
//
// The section (its "*table" and COMMIT lines included) is read as it is planned: a full sync's
// 320 000 rules are encoded line by line into `arena`, which must outlive the edits, nothing of
// the text kept but what the encoding wrote.
class XtSectionPlan {
 public:
  using Edits = std::optional<std::vector<XtChainEdit>>;
  static Result<Edits> Make(IpFamily family, const RestoreSection& section,
                            const XtTableBlob& table, XtRuleArena& arena);
};

}  // namespace kpx
