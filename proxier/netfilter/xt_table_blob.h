#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/page_allocator.h"
#include "base/protocol.h"
#include "base/status.h"
#include "proxier/netfilter/xt_rule_arena.h"
#include "proxier/netfilter/xt_rules.h"

namespace kpx {

// What IPT_SO_GET_INFO (IP6T_SO_GET_INFO) says about a table, and what IPT_SO_SET_REPLACE needs
// besides the entries. Offsets are byte offsets into the entries blob, indexed by hook
// (NF_INET_PRE_ROUTING .. NF_INET_POST_ROUTING).
struct XtTableInfo {
  uint32_t valid_hooks = 0;
  std::array<uint32_t, 5> hook_entry{};
  std::array<uint32_t, 5> underflow{};
  uint32_t num_entries = 0;
  uint32_t size = 0;
};

// A change to one user chain. A chain not named in any edit keeps every byte.
struct XtChainEdit {
  std::string name;
  // Deletes the chain: it must exist, end up without rules and be jumped to by no rule.
  bool remove = false;
  // False drops the chain's current rules (a flush); a chain that does not exist is created.
  bool keep_rules = false;
  XtRules before;  // rules ahead of the kept ones (iptables -I), in final order
  XtRules after;   // rules after the kept ones (iptables -A)
};

// A table-sized byte buffer, not zero-filled when grown (every byte is written right after), in
// mappings of its own with huge pages: 100 MB of it is written, read by the kernel's copy and
// edited in place on every sync.
using XtBuffer = std::vector<unsigned char, PageAllocator<unsigned char>>;

struct XtReplacement;

// The entries blob of one x_tables table (IPv4 ipt_entry or IPv6 ip6t_entry, as read with
// SO_GET_ENTRIES), split into chains: built-in chains found through hook_entry and underflow,
// user chains through their ERROR-target heads, and the final ERROR entry. Pure: no syscalls.
//
// The blob comes from the kernel but is treated as untrusted: every offset and size is checked,
// and anything libiptc would not accept either (a jump into the middle of a chain, a user chain
// without its RETURN tail) is an error, never a crash. The parsed object points into `entries`,
// which must outlive it.
class XtTableBlob {
 public:
  static Result<XtTableBlob> Parse(IpFamily family, const XtTableInfo& info,
                                   std::span<const unsigned char> entries);

  bool HasChain(std::string_view name) const;
  bool IsBuiltin(std::string_view name) const;
  // Rules of a chain (without a user chain's head and tail or a built-in chain's policy);
  // 0 for a chain that does not exist.
  size_t RuleCount(std::string_view name) const;
  size_t ChainCount() const { return chains_.size(); }
  // Chains in table order with their policies ("ACCEPT"/"DROP"; "-" for user chains), as
  // iptables-save lists them.
  struct ChainSummary {
    std::string_view name;
    std::string_view policy;
  };
  std::vector<ChainSummary> Chains() const;

  // Applies `edits` (at most one per chain) and lays the table out again: entries keep their
  // bytes (counters, matches, targets), jumps are pointed at their chains' new offsets, hook
  // entries, underflows, size and entry count are recomputed. New chains go where libiptc puts
  // them: before the first user chain whose name sorts after theirs.
  // The replacement also carries the new table already split (what Parse of its bytes would
  // give), so a caller that keeps the table between edits never parses its own writes again.
  // `spent`: the arena the edits' rules were encoded into, if they were, whose blocks are freed
  // as soon as their rules are written (the edits are spent after the call, whatever it
  // returns): a full sync's new table then faults in the memory the arena gives back, not as
  // much again (the first touch of fresh memory is what a full sync's edit waited on most).
  Result<XtReplacement> Apply(const std::vector<XtChainEdit>& edits, size_t headroom,
                              XtRuleArena* spent = nullptr) const;
  // The same, written over `buffer`: `headroom` bytes, then the very entries this table was split
  // from. Only what moves is moved, with no second table-sized buffer to allocate and fault in.
  // The replacement takes the buffer over, and this table's view of it is gone either way: use
  // the replacement's split, or after an error, neither.
  Result<XtReplacement> ApplyInPlace(const std::vector<XtChainEdit>& edits, size_t headroom,
                                     XtBuffer& buffer, XtRuleArena* spent = nullptr) const;

  const XtTableInfo& info() const { return info_; }

 private:
  struct Entry {
    uint32_t offset = 0;  // in the parsed blob
    uint32_t size = 0;
  };
  struct Chain {
    std::string_view name;  // into the blob (user chains) or a literal (built-in chains)
    int hook = -1;          // built-in: its hook; user chain: -1
    uint32_t first = 0;     // index of the first entry (a user chain's head, a built-in's rule)
    uint32_t rules = 0;     // index of the first rule
    uint32_t end = 0;       // index of the tail (user) or policy (built-in) entry
    uint32_t hash = 0;      // of the name, carried along by Apply so no name is hashed twice
  };
  XtTableBlob(IpFamily family, const XtTableInfo& info, std::span<const unsigned char> entries)
      : family_(family), info_(info), blob_(entries) {}
  Status Split();
  Status ResolveJumps();
  const Chain* Find(std::string_view name) const;
  // The same, for a name already hashed; by_name_ must not be empty.
  const Chain* FindHashed(uint32_t hash, std::string_view name) const;
  Result<XtReplacement> Rewrite(const std::vector<XtChainEdit>& edits, size_t headroom,
                                XtBuffer* in_place, XtRuleArena* spent) const;
  static uint32_t HashName(std::string_view name);
  // by_name_'s slot holding the chain `name` (of `hash`), or the free slot where it would go.
  size_t Probe(uint32_t hash, std::string_view name) const;
  // Fills by_name_ from chains_ and their hashes; returns a chain whose name came before.
  const Chain* IndexNames();

  IpFamily family_;
  XtTableInfo info_;
  std::span<const unsigned char> blob_;
  std::vector<Entry> entries_;
  std::vector<Chain> chains_;  // in blob order; the final ERROR entry belongs to none
  // Open addressing over chains_ (index + 1; 0 is free), at most half full. Rebuilt by every
  // Apply from the carried hashes: a node-based map of 110 000 names cost more than the edit.
  std::vector<uint32_t> by_name_;
  // Per entry: the chain its standard target jumps to, kFallThrough, or kNoJump.
  std::vector<uint32_t> jump_;
  static constexpr uint32_t kNoJump = UINT32_MAX;
  static constexpr uint32_t kFallThrough = UINT32_MAX - 1;
};

// The table after an edit, ready for SO_SET_REPLACE.
struct XtReplacement {
  XtTableInfo info;
  // `headroom` bytes reserved for the caller's ipt_replace header, then the entries, so the
  // table is handed to the kernel without one more copy of it. The headroom is zeroed.
  XtBuffer buffer;
  // Per new entry: the index of the entry it was copied from in the parsed table, or kNew.
  // Counters of kept entries are carried over with it (SO_SET_ADD_COUNTERS), as libiptc does.
  std::vector<uint32_t> old_index;
  static constexpr uint32_t kNew = UINT32_MAX;
  // Bytes of a fresh table that another core faulted in while it was written (the rest of what
  // the spent arena's pages did not cover).
  size_t populated = 0;
  // The new table, split; it points into `buffer`, whose bytes stay put when the replacement is
  // moved (a copy would leave it pointing at the original's), hence move-only.
  std::optional<XtTableBlob> table;

  XtReplacement() = default;
  XtReplacement(XtReplacement&&) = default;
  XtReplacement& operator=(XtReplacement&&) = default;
  XtReplacement(const XtReplacement&) = delete;
  XtReplacement& operator=(const XtReplacement&) = delete;
};

}  // namespace kpx
