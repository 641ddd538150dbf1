#include "proxier/netfilter/xt_table_blob.h"

// glibc's netinet/in.h before the kernel's headers, which then skip their own in.h definitions.
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <utility>

#include "base/page_block.h"
#include "base/page_populator.h"
#include "proxier/netfilter/chain_name_order.h"

namespace kpx {

namespace {

constexpr size_t kAlign = XT_ALIGN(1);
constexpr size_t kTargetHeader = sizeof(xt_entry_target);
constexpr size_t kStandardTargetSize = XT_ALIGN(sizeof(xt_standard_target));
constexpr size_t kErrorTargetSize = XT_ALIGN(sizeof(xt_error_target));
// The longest chain name iptables accepts (XT_EXTENSION_MAXNAMELEN less the NUL).
constexpr size_t kMaxChainName = XT_EXTENSION_MAXNAMELEN - 1;
constexpr int kHooks = 5;
constexpr const char* kHookNames[kHooks] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT",
                                            "POSTROUTING"};

// Where the fields the editor touches sit in the family's entry.
struct Layout {
  size_t entry_size;
  size_t target_offset_at;
  size_t next_offset_at;
};

Layout LayoutOf(IpFamily family) {
  if (family == IpFamily::kIPv4) {
    return {sizeof(ipt_entry), offsetof(ipt_entry, target_offset),
            offsetof(ipt_entry, next_offset)};
  }
  return {sizeof(ip6t_entry), offsetof(ip6t_entry, target_offset),
          offsetof(ip6t_entry, next_offset)};
}

uint16_t Read16(const unsigned char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

int32_t Read32(const unsigned char* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void Write16(unsigned char* p, uint16_t v) { std::memcpy(p, &v, sizeof(v)); }
void Write32(unsigned char* p, int32_t v) { std::memcpy(p, &v, sizeof(v)); }

// The target of an entry whose sizes were checked by CheckEntry.
struct TargetView {
  const unsigned char* at;  // the xt_entry_target
  uint16_t size;
  std::string_view name;  // u.user.name up to its NUL
};

TargetView TargetOf(const Layout& l, const unsigned char* entry) {
  const unsigned char* t = entry + Read16(entry + l.target_offset_at);
  const char* name = reinterpret_cast<const char*>(t + offsetof(xt_entry_target, u.user.name));
  return {t, Read16(t), std::string_view(name, strnlen(name, XT_EXTENSION_MAXNAMELEN))};
}

// Checks that the entry at `at` (with `room` bytes left in its buffer) is laid out as the kernel
// requires: header, then a target that fits, the whole aligned. Returns its size.
Result<uint32_t> CheckEntry(const Layout& l, const unsigned char* at, size_t room) {
  if (room < l.entry_size) return Status::Error("entry truncated");
  const uint16_t target_offset = Read16(at + l.target_offset_at);
  const uint16_t next_offset = Read16(at + l.next_offset_at);
  if (next_offset > room) return Status::Error("entry runs past the end of the table");
  if (next_offset % kAlign != 0) return Status::Error("entry size not aligned");
  if (target_offset < l.entry_size || target_offset % kAlign != 0 ||
      size_t{target_offset} + kTargetHeader > next_offset) {
    return Status::Error("target offset out of the entry");
  }
  const uint16_t target_size = Read16(at + target_offset);
  if (target_size < kTargetHeader || size_t{target_offset} + target_size > next_offset) {
    return Status::Error("target size out of the entry");
  }
  return uint32_t{next_offset};
}

bool IsStandard(const TargetView& t) { return t.name.empty(); }

int32_t Verdict(const TargetView& t) { return Read32(t.at + kTargetHeader); }

// A user chain's head (ERROR target carrying the name) or tail (unconditional RETURN), zeroed
// elsewhere, as libiptc writes them.
void WriteHead(const Layout& l, unsigned char* at, std::string_view name) {
  std::memset(at, 0, l.entry_size + kErrorTargetSize);
  Write16(at + l.target_offset_at, static_cast<uint16_t>(l.entry_size));
  Write16(at + l.next_offset_at, static_cast<uint16_t>(l.entry_size + kErrorTargetSize));
  unsigned char* t = at + l.entry_size;
  Write16(t, static_cast<uint16_t>(kErrorTargetSize));
  std::memcpy(t + offsetof(xt_entry_target, u.user.name), XT_ERROR_TARGET,
              sizeof(XT_ERROR_TARGET) - 1);
  std::memcpy(t + kTargetHeader, name.data(), name.size());
}

void WriteTail(const Layout& l, unsigned char* at) {
  std::memset(at, 0, l.entry_size + kStandardTargetSize);
  Write16(at + l.target_offset_at, static_cast<uint16_t>(l.entry_size));
  Write16(at + l.next_offset_at, static_cast<uint16_t>(l.entry_size + kStandardTargetSize));
  unsigned char* t = at + l.entry_size;
  Write16(t, static_cast<uint16_t>(kStandardTargetSize));
  Write32(t + kTargetHeader, XT_RETURN);
}

// The verdict a user-form standard target names, if it names one.
std::optional<int32_t> NamedVerdict(std::string_view name) {
  if (name == "ACCEPT") return -NF_ACCEPT - 1;
  if (name == "DROP") return -NF_DROP - 1;
  if (name == "QUEUE") return -NF_QUEUE - 1;
  if (name == "RETURN") return XT_RETURN;
  return std::nullopt;
}

// Room for `n` elements, faulted in at once when that is a large buffer: the layout's
// per-entry and per-chain vectors (~22 MB at 10 000 x 10, made anew on every sync) took ~3 000
// page faults one 4 KiB page at a time, a third of a first sync's layout passes.
template <typename V>
void ReserveFaultedIn(V& v, size_t n) {
  v.reserve(n);
  const size_t bytes = v.capacity() * sizeof(typename V::value_type);
  if (bytes >= PageBlock::kHugePageSize) PageBlock::PopulateHuge(v.data(), bytes);
}

}  // namespace

Result<XtTableBlob> XtTableBlob::Parse(IpFamily family, const XtTableInfo& info,
                                       std::span<const unsigned char> entries) {
  if (entries.size() != info.size) {
    return Status::Error("table blob is " + std::to_string(entries.size()) +
                         " bytes, its info says " + std::to_string(info.size));
  }
  if ((info.valid_hooks >> kHooks) != 0) return Status::Error("unknown hooks in valid_hooks");
  XtTableBlob t(family, info, entries);
  if (Status st = t.Split(); !st.ok()) return st;
  if (Status st = t.ResolveJumps(); !st.ok()) return st;
  return t;
}

Status XtTableBlob::Split() {
  const Layout l = LayoutOf(family_);
  // The count is the kernel's word, but untrusted: never reserve more than the bytes could hold.
  entries_.reserve(std::min<size_t>(info_.num_entries, blob_.size() / l.entry_size));
  for (size_t off = 0; off < blob_.size();) {
    auto size = CheckEntry(l, blob_.data() + off, blob_.size() - off);
    if (!size.ok()) {
      return Status::Error("entry at offset " + std::to_string(off) + ": " +
                           size.status().message());
    }
    entries_.push_back({static_cast<uint32_t>(off), *size});
    off += *size;
  }
  if (entries_.size() != info_.num_entries) {
    return Status::Error("table has " + std::to_string(entries_.size()) +
                         " entries, its info says " + std::to_string(info_.num_entries));
  }
  if (entries_.empty()) return Status::Error("table has no entries");
  auto index_at = [&](uint32_t offset) -> std::optional<uint32_t> {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), offset,
                               [](const Entry& e, uint32_t o) { return e.offset < o; });
    if (it == entries_.end() || it->offset != offset) return std::nullopt;
    return static_cast<uint32_t>(it - entries_.begin());
  };
  // The entry index each hook's chain starts at, and each hook's policy entry.
  std::vector<std::pair<uint32_t, int>> hook_at;
  std::array<uint32_t, kHooks> policy{};
  for (int h = 0; h < kHooks; ++h) {
    if ((info_.valid_hooks & (1u << h)) == 0) continue;
    auto start = index_at(info_.hook_entry[h]);
    auto under = index_at(info_.underflow[h]);
    if (!start || !under || *under < *start) {
      return Status::Error(std::string("hook ") + kHookNames[h] +
                           ": entry or underflow is not an entry of the table");
    }
    for (const auto& [other, _] : hook_at) {
      if (other == *start) {
        return Status::Error(std::string("hook ") + kHookNames[h] + " shares its chain");
      }
    }
    hook_at.emplace_back(*start, h);
    policy[h] = *under;
  }
  const uint32_t last = static_cast<uint32_t>(entries_.size() - 1);
  if (TargetOf(l, blob_.data() + entries_[last].offset).name != XT_ERROR_TARGET) {
    return Status::Error("table does not end with an ERROR entry");
  }
  // Closes the chain being read at entry `end` (inclusive) and checks how it ends.
  auto close = [&](uint32_t end) -> Status {
    if (chains_.empty()) return Status::Ok();
    Chain& c = chains_.back();
    c.end = end;
    if (c.hook >= 0) {
      if (policy[c.hook] != end) {
        return Status::Error("chain " + std::string(c.name) + " does not end at its underflow");
      }
      return Status::Ok();
    }
    const TargetView t = TargetOf(l, blob_.data() + entries_[end].offset);
    if (end < c.rules || !IsStandard(t) || t.size != kStandardTargetSize ||
        Verdict(t) != XT_RETURN) {
      return Status::Error("chain " + std::string(c.name) + " does not end with RETURN");
    }
    return Status::Ok();
  };
  for (uint32_t i = 0; i < last; ++i) {
    const unsigned char* e = blob_.data() + entries_[i].offset;
    auto h = std::find_if(hook_at.begin(), hook_at.end(),
                          [i](const auto& start) { return start.first == i; });
    if (h != hook_at.end()) {
      if (Status st = close(i - 1); !st.ok()) return st;
      chains_.push_back({kHookNames[h->second], h->second, i, i, 0});
      continue;
    }
    const TargetView t = TargetOf(l, e);
    if (t.name == XT_ERROR_TARGET) {
      if (Status st = close(i - 1); !st.ok()) return st;
      if (t.size < kTargetHeader + 1) return Status::Error("user chain head without a name");
      const char* name = reinterpret_cast<const char*>(t.at + kTargetHeader);
      const size_t len = strnlen(name, t.size - kTargetHeader);
      if (len == 0 || len == t.size - kTargetHeader) {
        return Status::Error("user chain head at offset " + std::to_string(entries_[i].offset) +
                             " has no terminated name");
      }
      chains_.push_back({std::string_view(name, len), -1, i, i + 1, 0});
      continue;
    }
    if (chains_.empty()) {
      return Status::Error("entry at offset " + std::to_string(entries_[i].offset) +
                           " belongs to no chain");
    }
  }
  if (Status st = close(last - 1); !st.ok()) return st;
  for (Chain& c : chains_) c.hash = HashName(c.name);
  if (const Chain* twice = IndexNames(); twice != nullptr) {
    return Status::Error("chain " + std::string(twice->name) + " appears twice");
  }
  for (int h = 0; h < kHooks; ++h) {
    if ((info_.valid_hooks & (1u << h)) != 0 && Find(kHookNames[h]) == nullptr) {
      return Status::Error(std::string("hook ") + kHookNames[h] + " has no chain");
    }
  }
  return Status::Ok();
}

Status XtTableBlob::ResolveJumps() {
  const Layout l = LayoutOf(family_);
  // Chains are in blob order, so their first rules' offsets are sorted.
  std::vector<uint32_t> starts;
  starts.reserve(chains_.size());
  for (const Chain& c : chains_) starts.push_back(entries_[c.rules].offset);
  jump_.assign(entries_.size(), kNoJump);
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    const TargetView t = TargetOf(l, blob_.data() + entries_[i].offset);
    if (!IsStandard(t)) continue;
    if (t.size != kStandardTargetSize) {
      return Status::Error("standard target of size " + std::to_string(t.size) + " at offset " +
                           std::to_string(entries_[i].offset));
    }
    const int32_t verdict = Verdict(t);
    if (verdict < 0) continue;
    if (static_cast<uint32_t>(verdict) == entries_[i].offset + entries_[i].size) {
      jump_[i] = kFallThrough;
      continue;
    }
    auto it = std::lower_bound(starts.begin(), starts.end(), static_cast<uint32_t>(verdict));
    if (it == starts.end() || *it != static_cast<uint32_t>(verdict)) {
      return Status::Error("rule at offset " + std::to_string(entries_[i].offset) +
                           " jumps to offset " + std::to_string(verdict) +
                           ", which starts no chain");
    }
    jump_[i] = static_cast<uint32_t>(it - starts.begin());
  }
  return Status::Ok();
}

const XtTableBlob::Chain* XtTableBlob::Find(std::string_view name) const {
  if (by_name_.empty()) return nullptr;
  return FindHashed(HashName(name), name);
}

const XtTableBlob::Chain* XtTableBlob::FindHashed(uint32_t hash, std::string_view name) const {
  const uint32_t at = by_name_[Probe(hash, name)];
  return at == 0 ? nullptr : &chains_[at - 1];
}

size_t XtTableBlob::Probe(uint32_t hash, std::string_view name) const {
  const size_t mask = by_name_.size() - 1;
  size_t i = hash & mask;
  for (; by_name_[i] != 0; i = (i + 1) & mask) {
    const Chain& c = chains_[by_name_[i] - 1];
    if (c.hash == hash && c.name == name) break;
  }
  return i;
}

uint32_t XtTableBlob::HashName(std::string_view name) {
  return static_cast<uint32_t>(std::hash<std::string_view>()(name));
}

const XtTableBlob::Chain* XtTableBlob::IndexNames() {
  size_t capacity = 16;
  while (capacity < 2 * chains_.size()) capacity *= 2;
  by_name_.assign(capacity, 0);
  for (uint32_t c = 0; c < chains_.size(); ++c) {
    const size_t i = Probe(chains_[c].hash, chains_[c].name);
    if (by_name_[i] != 0) return &chains_[by_name_[i] - 1];
    by_name_[i] = c + 1;
  }
  return nullptr;
}

bool XtTableBlob::HasChain(std::string_view name) const { return Find(name) != nullptr; }

bool XtTableBlob::IsBuiltin(std::string_view name) const {
  const Chain* c = Find(name);
  return c != nullptr && c->hook >= 0;
}

size_t XtTableBlob::RuleCount(std::string_view name) const {
  const Chain* c = Find(name);
  return c == nullptr ? 0 : c->end - c->rules;
}

std::vector<XtTableBlob::ChainSummary> XtTableBlob::Chains() const {
  const Layout l = LayoutOf(family_);
  std::vector<ChainSummary> out;
  out.reserve(chains_.size());
  for (const Chain& c : chains_) {
    std::string_view policy = "-";
    if (c.hook >= 0) {
      const TargetView t = TargetOf(l, blob_.data() + entries_[c.end].offset);
      const int32_t v = IsStandard(t) ? Verdict(t) : 0;
      policy = v == -NF_ACCEPT - 1 ? "ACCEPT" : v == -NF_DROP - 1 ? "DROP" : "?";
    }
    out.push_back({c.name, policy});
  }
  return out;
}

Result<XtReplacement> XtTableBlob::Apply(const std::vector<XtChainEdit>& edits, size_t headroom,
                                         XtRuleArena* spent) const {
  return Rewrite(edits, headroom, nullptr, spent);
}

Result<XtReplacement> XtTableBlob::ApplyInPlace(const std::vector<XtChainEdit>& edits,
                                                size_t headroom, XtBuffer& buffer,
                                                XtRuleArena* spent) const {
  if (buffer.size() < headroom || buffer.data() + headroom != blob_.data() ||
      buffer.size() - headroom != blob_.size()) {
    return Status::Error("edit in place: the buffer does not hold this table");
  }
  return Rewrite(edits, headroom, &buffer, spent);
}

Result<XtReplacement> XtTableBlob::Rewrite(const std::vector<XtChainEdit>& edits, size_t headroom,
                                           XtBuffer* in_place, XtRuleArena* spent) const {
  const Layout l = LayoutOf(family_);
  // Only the edits are hashed, each once: a table of 110 000 chains is walked by index, and a
  // full sync's 110 000 new chains are found through the new table's own index, built once.
  std::vector<const XtChainEdit*> edit_of_chain(chains_.size(), nullptr);
  struct NewChain {
    const XtChainEdit* edit;
    uint32_t hash;
  };
  // Keyed by the name's first 16 bytes, so that sorting 110 000 new chains mostly compares
  // integers instead of chasing every name.
  using Created = ChainNameOrder::Keyed<NewChain>;
  std::vector<Created> created;
  ReserveFaultedIn(created, edits.size());
  for (const XtChainEdit& e : edits) {
    if (e.name.empty() || e.name.size() > kMaxChainName) {
      return Status::Error("bad chain name \"" + e.name + "\"");
    }
    const uint32_t hash = HashName(e.name);
    const Chain* c = by_name_.empty() ? nullptr : FindHashed(hash, e.name);
    if (c != nullptr && c->hook >= 0) return Status::Error(e.name + " is a built-in chain");
    if (e.remove) {
      if (c == nullptr) return Status::Error("cannot delete " + e.name + ": no such chain");
      if (!e.before.empty() || !e.after.empty() || (e.keep_rules && c->end > c->rules)) {
        return Status::Error("cannot delete " + e.name + ": chain is not empty");
      }
    }
    if (c == nullptr) {
      created.push_back(Created::Of(e.name, {&e, hash}));
    } else if (const XtChainEdit*& slot = edit_of_chain[c - chains_.data()]; slot != nullptr) {
      return Status::Error("chain " + e.name + " edited twice");
    } else {
      slot = &e;
    }
  }
  // A full sync's text declares its 110 000 chains in table order already: checked in one pass
  // rather than sorted again (6 ms).
  if (!std::is_sorted(created.begin(), created.end())) std::sort(created.begin(), created.end());
  for (size_t i = 1; i < created.size(); ++i) {
    if (created[i].name == created[i - 1].name) {
      return Status::Error("chain " + std::string(created[i].name) + " edited twice");
    }
  }

  // The new table's chains in order: existing ones (index into chains_) or created ones.
  struct Slot {
    const Chain* old = nullptr;
    const XtChainEdit* edit = nullptr;
    std::string_view name;
    uint32_t hash = 0;
    uint32_t first_rule = 0;  // offset in the new table
  };
  std::vector<Slot> slots;
  ReserveFaultedIn(slots, chains_.size() + created.size());
  size_t next_created = 0;
  auto add_created = [&] {
    const Created& n = created[next_created++];
    slots.push_back({nullptr, n.item.edit, n.name, n.item.hash});
  };
  for (const Chain& c : chains_) {
    const XtChainEdit* e = edit_of_chain[&c - chains_.data()];
    if (c.hook < 0) {
      while (next_created < created.size() && created[next_created].name < c.name) {
        add_created();
      }
    }
    if (e != nullptr && e->remove) continue;
    slots.push_back({&c, e, c.name, c.hash});
  }
  while (next_created < created.size()) add_created();
  std::vector<uint32_t> slot_of_chain(chains_.size(), kNoJump);
  for (uint32_t s = 0; s < slots.size(); ++s) {
    if (slots[s].old != nullptr) slot_of_chain[slots[s].old - chains_.data()] = s;
  }

  // The new table, chain i of it being slot i: named and indexed now (the names point into the
  // edits and the old table until the bytes are written), so that a new rule's jump finds its
  // chain, old or created, with one hash and one probe.
  XtTableBlob next(family_, info_, {});
  ReserveFaultedIn(next.chains_, slots.size());
  next.chains_.resize(slots.size());
  for (size_t s = 0; s < slots.size(); ++s) {
    next.chains_[s].name = slots[s].name;
    next.chains_[s].hash = slots[s].hash;
  }
  if (const Chain* twice = next.IndexNames(); twice != nullptr) {
    return Status::Error("chain " + std::string(twice->name) + " appears twice");
  }

  // A new rule's size, checked.
  auto rule_size = [&](std::span<const unsigned char> r) -> Result<uint32_t> {
    auto size = CheckEntry(l, r.data(), r.size());
    if (size.ok() && *size != r.size()) return Status::Error("rule size differs from next_offset");
    return size;
  };
  // Bytes of the old entries [from, to).
  auto span_bytes = [&](uint32_t from, uint32_t to) -> uint64_t {
    if (from >= to) return 0;
    return uint64_t{entries_[to - 1].offset} + entries_[to - 1].size - entries_[from].offset;
  };

  // Pass 1: sizes and each chain's first rule.
  uint64_t size = 0;
  uint64_t count = 0;
  const size_t head = l.entry_size + kErrorTargetSize;
  const size_t tail = l.entry_size + kStandardTargetSize;
  for (Slot& s : slots) {
    const bool keep = s.edit == nullptr || s.edit->keep_rules;
    if (s.old != nullptr && s.old->hook >= 0) {
      s.first_rule = static_cast<uint32_t>(size);
      size += span_bytes(s.old->first, s.old->end + 1);
      count += s.old->end + 1 - s.old->first;
      continue;
    }
    size += s.old != nullptr ? span_bytes(s.old->first, s.old->rules) : head;
    s.first_rule = static_cast<uint32_t>(size);
    if (s.edit != nullptr) {
      for (const auto* list : {&s.edit->before, &s.edit->after}) {
        for (std::span<const unsigned char> r : *list) {
          auto rs = rule_size(r);
          if (!rs.ok())
            return Status::Error("rule for " + s.edit->name + ": " + rs.status().message());
          size += *rs;
        }
        count += list->size();
      }
    }
    if (keep && s.old != nullptr) {
      size += span_bytes(s.old->rules, s.old->end);
      count += s.old->end - s.old->rules;
    }
    size += s.old != nullptr ? entries_[s.old->end].size : tail;
    count += s.old != nullptr ? s.old->rules - s.old->first + 1 : 2;
  }
  size += entries_.back().size;
  count += 1;
  if (size > UINT32_MAX || count > UINT32_MAX) return Status::Error("table too large");

  XtReplacement out;
  out.info.valid_hooks = info_.valid_hooks;
  out.info.size = static_cast<uint32_t>(size);
  out.info.num_entries = static_cast<uint32_t>(count);
  ReserveFaultedIn(out.old_index, count);

  // Pass 2, the layout: where each run of old bytes and each new entry goes, and the new table's
  // split, chain i of it being slot i. No byte is written yet, so that an edit in place can
  // move the runs in an order that never overwrites one it has still to move.
  struct Run {
    uint32_t src;
    uint32_t dst;
    uint32_t bytes;
  };
  std::vector<Run> runs;
  // What the new rules' targets name, remembered: 100 000 DNATs need not look "DNAT" up in the
  // chain index each, nor 110 000 hairpin rules KUBE-MARK-MASQ. The chains do not change
  // during the layout, so neither does the answer.
  std::vector<std::string_view> extensions;
  std::string_view last_jump_name;
  uint32_t last_jump = kNoJump;
  uint32_t at = 0;
  ReserveFaultedIn(next.entries_, count);
  ReserveFaultedIn(next.jump_, count);
  auto add_entry = [&](uint32_t entry_size, uint32_t jump) {
    next.entries_.push_back({at, entry_size});
    next.jump_.push_back(jump);
    at += entry_size;
  };
  // Old entries [from, to), their jumps mapped to the new table's chains.
  auto keep_old = [&](uint32_t from, uint32_t to) -> Status {
    if (from >= to) return Status::Ok();
    const uint32_t src = entries_[from].offset;
    const uint32_t bytes = static_cast<uint32_t>(span_bytes(from, to));
    if (!runs.empty() && runs.back().src + runs.back().bytes == src &&
        runs.back().dst + runs.back().bytes == at) {
      runs.back().bytes += bytes;
    } else {
      runs.push_back({src, at, bytes});
    }
    for (uint32_t i = from; i < to; ++i) {
      out.old_index.push_back(i);
      uint32_t jump = jump_[i];
      if (jump != kNoJump && jump != kFallThrough) {
        jump = slot_of_chain[jump_[i]];
        if (jump == kNoJump) {
          return Status::Error("cannot delete " + std::string(chains_[jump_[i]].name) +
                               ": a rule still jumps to it");
        }
      }
      add_entry(entries_[i].size, jump);
    }
    return Status::Ok();
  };
  // Whether a target's name is looked up in the chain index: not a fall through or verdict, nor
  // the chain the last lookup found, nor an extension's target already met.
  auto looked_up = [&](const TargetView& t) {
    return !IsStandard(t) && !NamedVerdict(t.name) &&
           !(last_jump != kNoJump && t.name == last_jump_name) &&
           std::find(extensions.begin(), extensions.end(), t.name) == extensions.end();
  };
  // A new rule; its named standard target becomes a verdict or a jump when the bytes are written.
  // `hash`: its target name's, when already computed (0: not).
  auto add_new = [&](std::span<const unsigned char> r, std::string_view chain,
                     uint32_t hash) -> Status {
    const TargetView t = TargetOf(l, r.data());
    bool standard = true;
    uint32_t jump = kNoJump;
    const std::optional<int32_t> named = NamedVerdict(t.name);
    if (IsStandard(t)) {
      jump = kFallThrough;
    } else if (named) {
    } else if (last_jump != kNoJump && t.name == last_jump_name) {
      jump = last_jump;
    } else if (std::find(extensions.begin(), extensions.end(), t.name) != extensions.end()) {
      standard = false;
    } else if (const uint32_t h = hash != 0 ? hash : HashName(t.name);
               const Chain* to = next.FindHashed(h, t.name)) {
      jump = static_cast<uint32_t>(to - next.chains_.data());
      last_jump = jump;
      last_jump_name = next.chains_[jump].name;
    } else if (!by_name_.empty() && FindHashed(h, t.name) != nullptr) {
      return Status::Error("rule in " + std::string(chain) + " jumps to " + std::string(t.name) +
                           ", which is deleted");
    } else {
      standard = false;  // an extension's target
      if (extensions.size() < 16) extensions.push_back(t.name);
    }
    if (standard && t.size != kStandardTargetSize) {
      return Status::Error("rule in " + std::string(chain) + ": standard target of size " +
                           std::to_string(t.size));
    }
    out.old_index.push_back(XtReplacement::kNew);
    add_entry(static_cast<uint32_t>(r.size()), jump);
    return Status::Ok();
  };
  // A chain's new rules jump to chains all over the index (a service chain's ten endpoint
  // chains): looked up one after another, each waited on the index slot, then the chain, then
  // its name, three misses in a row (120 000 lookups, ~40 ms of a full sync's layout). The rules
  // about to be looked up have their slots and chains asked for first, so the misses overlap,
  // and their names' hashes are handed to add_new.
  const size_t name_mask = next.by_name_.size() - 1;
  std::vector<uint32_t> ahead;  // per rule of the list: its target name's hash, or 0; reused
  auto add_list = [&](const XtRules& list, std::string_view chain) -> Status {
    ahead.assign(list.size(), 0);
    size_t k = 0;
    for (std::span<const unsigned char> r : list) {
      const TargetView t = TargetOf(l, r.data());
      const uint32_t h = looked_up(t) ? HashName(t.name) : 0;
      if (h != 0) __builtin_prefetch(&next.by_name_[h & name_mask]);
      ahead[k++] = h;
    }
    for (const uint32_t h : ahead) {
      if (const uint32_t at = h != 0 ? next.by_name_[h & name_mask] : 0; at != 0) {
        __builtin_prefetch(&next.chains_[at - 1]);
      }
    }
    for (const uint32_t h : ahead) {
      if (const uint32_t at = h != 0 ? next.by_name_[h & name_mask] : 0; at != 0) {
        __builtin_prefetch(next.chains_[at - 1].name.data());
      }
    }
    k = 0;
    for (std::span<const unsigned char> r : list) {
      if (Status st = add_new(r, chain, ahead[k++]); !st.ok()) return st;
    }
    return Status::Ok();
  };
  for (size_t si = 0; si < slots.size(); ++si) {
    const Slot& s = slots[si];
    Chain& c = next.chains_[si];
    c.first = static_cast<uint32_t>(next.entries_.size());
    if (s.old != nullptr && s.old->hook >= 0) {
      c.hook = s.old->hook;
      c.rules = c.first;
      out.info.hook_entry[s.old->hook] = at;
      if (Status st = keep_old(s.old->first, s.old->end); !st.ok()) return st;
      out.info.underflow[s.old->hook] = at;
      c.end = static_cast<uint32_t>(next.entries_.size());
      if (Status st = keep_old(s.old->end, s.old->end + 1); !st.ok()) return st;
      continue;
    }
    if (s.old != nullptr) {
      if (Status st = keep_old(s.old->first, s.old->rules); !st.ok()) return st;
    } else {
      out.old_index.push_back(XtReplacement::kNew);
      add_entry(static_cast<uint32_t>(head), kNoJump);
    }
    c.rules = static_cast<uint32_t>(next.entries_.size());
    if (s.edit != nullptr) {
      if (Status st = add_list(s.edit->before, s.name); !st.ok()) return st;
    }
    if (s.old != nullptr && (s.edit == nullptr || s.edit->keep_rules)) {
      if (Status st = keep_old(s.old->rules, s.old->end); !st.ok()) return st;
    }
    if (s.edit != nullptr) {
      if (Status st = add_list(s.edit->after, s.name); !st.ok()) return st;
    }
    c.end = static_cast<uint32_t>(next.entries_.size());
    if (s.old != nullptr) {
      if (Status st = keep_old(s.old->end, s.old->end + 1); !st.ok()) return st;
    } else {
      out.old_index.push_back(XtReplacement::kNew);
      add_entry(static_cast<uint32_t>(tail), kNoJump);
    }
  }
  if (Status st = keep_old(static_cast<uint32_t>(entries_.size() - 1),
                           static_cast<uint32_t>(entries_.size()));
      !st.ok()) {
    return st;
  }

  // Pass 3, the bytes. Every check is behind us: an edit in place is never left half done.
  unsigned char* base = nullptr;
  if (in_place != nullptr) {
    // Runs keep their order, so those moving left never land on one still to move when taken
    // left to right, nor those moving right when taken right to left; the new entries fill
    // the gaps afterwards. Grown first (within the capacity kept for it, usually), shrunk last.
    const size_t was = in_place->size();
    if (headroom + size > was) in_place->resize(headroom + size);
    base = in_place->data() + headroom;
    for (const Run& r : runs) {
      if (r.dst < r.src) std::memmove(base + r.dst, base + r.src, r.bytes);
    }
    for (auto r = runs.rbegin(); r != runs.rend(); ++r) {
      if (r->dst > r->src) std::memmove(base + r->dst, base + r->src, r->bytes);
    }
    in_place->resize(headroom + size);
    out.buffer = std::move(*in_place);
  } else {
    // Room to grow in place on later edits; reserved, not touched, so it costs no memory yet.
    out.buffer.reserve(headroom + size + size / 32);
    out.buffer.resize(headroom + size);
    // 100 MB written once into fresh memory: faulted in 4 KiB at a time that was 25 000 page
    // faults, a third of the edit. Populated at once, unless the rules' arena is freed as they
    // are written: the table's pages then come from the arena's as they are written.
    if (spent == nullptr) PageBlock::Populate(out.buffer.data(), out.buffer.size());
    base = out.buffer.data() + headroom;
    for (const Run& r : runs) std::memcpy(base + r.dst, blob_.data() + r.src, r.bytes);
  }
  std::memset(out.buffer.data(), 0, headroom);
  // The new entries, walked in pass 2's order (entry index `ei` of the new table) and copied
  // straight from the edits: a full sync's 430 000 of them needed no list of their own.
  size_t ei = 0;
  auto skip_old = [&](uint32_t from, uint32_t to) { ei += to > from ? to - from : 0; };
  auto write_new = [&](std::span<const unsigned char> r) {
    const uint32_t dst = next.entries_[ei].offset;
    const uint32_t jump = next.jump_[ei++];
    unsigned char* e = base + dst;
    std::memcpy(e, r.data(), r.size());
    unsigned char* target = e + Read16(e + l.target_offset_at);
    const std::optional<int32_t> named = NamedVerdict(TargetOf(l, e).name);
    if (!named && jump == kNoJump) return;  // an extension's target keeps its bytes
    std::memset(target + offsetof(xt_entry_target, u.user.name), 0, XT_EXTENSION_MAXNAMELEN);
    target[offsetof(xt_entry_target, u.user.revision)] = 0;
    // Its verdict now, while its bytes are at hand.
    if (named) {
      Write32(target + kTargetHeader, *named);
    } else if (jump == kFallThrough) {
      Write32(target + kTargetHeader, static_cast<int32_t>(dst + r.size()));
    } else {
      Write32(target + kTargetHeader, static_cast<int32_t>(slots[jump].first_rule));
    }
  };
  // The arena's blocks in the order the walk below is done with them: after the last slot whose
  // rules are in each. A full sync's text lists chains in table order, so it frees them nearly
  // front to back (the top-level chains' rules, written first, keep the first block longest).
  std::vector<std::pair<size_t, size_t>> release;  // (last slot, block)
  size_t next_release = 0;
  if (spent != nullptr) {
    std::vector<size_t> last(spent->blocks(), SIZE_MAX);
    size_t hint = XtRuleArena::kNoBlock;
    for (size_t si = 0; si < slots.size(); ++si) {
      if (slots[si].edit == nullptr) continue;
      for (const XtRules* list : {&slots[si].edit->before, &slots[si].edit->after}) {
        if (list->empty()) continue;
        hint = spent->BlockOf((*list->begin()).data(), hint);
        if (hint != XtRuleArena::kNoBlock) last[hint] = si;
      }
    }
    for (size_t b = 0; b < last.size(); ++b) {
      if (last[b] == SIZE_MAX) {
        spent->Release(b);  // holds no rule written here (a plan's leftovers)
      } else {
        release.emplace_back(last[b], b);
      }
    }
    std::sort(release.begin(), release.end());
  }
  // A spent block's pages go to the table, ahead of the writes, instead of back to the kernel:
  // the writes there then take no fault and the kernel zeroes no page for them (a fresh page's
  // fault and zeroing cost ~0.1 s per 100 MB on a virtualized node). Only onto bytes nothing has
  // been written to yet: past the next new entry's when the block is spent (at the start of the
  // slot after its last, whose first entry pass 2 placed), clear of the old entries copied in
  // above (`runs`, in table order), and inside the table. Planned here, before any write, so
  // that the rest of the fresh table can be populated meanwhile on another core.
  std::vector<unsigned char*> move_to(release.size(), nullptr);
  // The fresh table's stretches no block will cover, less the old entries copied in above.
  std::vector<PagePopulator::Range> unmoved;
  // Only for a table in a mapping of its own: below that it is heap memory, mostly present
  // already, and starting the populator's thread for it took longer than writing it (the small
  // tables' edits took 0.3-3.6 ms of every first sync, five of them).
  if (in_place == nullptr && spent != nullptr && headroom + size >= PageBlock::kHugePageSize) {
    // The first run that ends after `at`.
    auto run_after = [&](const unsigned char* at) {
      return std::partition_point(runs.begin(), runs.end(),
                                  [&](const Run& x) { return base + x.dst + x.bytes <= at; });
    };
    auto add_unmoved = [&](unsigned char* at, unsigned char* end) {
      for (auto r = run_after(at); r != runs.end() && base + r->dst < end; ++r) {
        if (base + r->dst > at) unmoved.push_back({at, static_cast<size_t>(base + r->dst - at)});
        at = std::max(at, base + r->dst + r->bytes);
      }
      if (at < end) unmoved.push_back({at, static_cast<size_t>(end - at)});
    };
    unsigned char* moved_end = base;  // the end of the last stretch given a block's pages
    for (size_t k = 0; k < release.size(); ++k) {
      const size_t si = release[k].first + 1;
      const size_t block = release[k].second;
      if (si >= slots.size() || !spent->Movable(block)) continue;
      const size_t bytes = spent->BlockSize(block);
      unsigned char* to = PageBlock::HugePageAtOrAfter(
          std::max(base + next.entries_[next.chains_[si].first].offset, moved_end));
      const uint64_t lo = static_cast<uint64_t>(to - base);
      if (lo + bytes > size) continue;
      if (auto r = run_after(to); r != runs.end() && r->dst < lo + bytes) continue;
      move_to[k] = to;
      add_unmoved(moved_end, to);
      moved_end = to + bytes;
    }
    add_unmoved(moved_end, base + size);
  }
  PagePopulator populator(std::move(unmoved));
  auto spend = [&](size_t k) {
    const size_t block = release[k].second;
    if (move_to[k] == nullptr || !spent->MoveBlock(block, move_to[k])) spent->Release(block);
  };
  for (size_t si = 0; si < slots.size(); ++si) {
    const Slot& s = slots[si];
    while (next_release < release.size() && release[next_release].first < si) {
      spend(next_release++);
    }
    if (s.old != nullptr && s.old->hook >= 0) {
      skip_old(s.old->first, s.old->end + 1);
      continue;
    }
    if (s.old != nullptr) {
      skip_old(s.old->first, s.old->rules);
    } else {
      WriteHead(l, base + next.entries_[ei++].offset, s.name);
    }
    if (s.edit != nullptr) {
      for (std::span<const unsigned char> r : s.edit->before) write_new(r);
    }
    if (s.old != nullptr && (s.edit == nullptr || s.edit->keep_rules)) {
      skip_old(s.old->rules, s.old->end);
    }
    if (s.edit != nullptr) {
      for (std::span<const unsigned char> r : s.edit->after) write_new(r);
    }
    if (s.old != nullptr) {
      skip_old(s.old->end, s.old->end + 1);
    } else {
      WriteTail(l, base + next.entries_[ei++].offset);
    }
  }
  populator.Stop();
  out.populated = populator.populated();
  // Every jump and fall-through of the entries kept, to where its chain or next entry now is.
  // A kept entry still holds its old verdict (an absolute offset: its chain's first rule, or its
  // own next entry), which is already right unless that target moved: a one-endpoint change
  // usually moves no entry, and rewriting them all read the whole 100 MB table for nothing.
  std::vector<bool> slot_moved(slots.size(), true);
  for (size_t si = 0; si < slots.size(); ++si) {
    if (slots[si].old != nullptr) {
      slot_moved[si] = slots[si].first_rule != entries_[slots[si].old->rules].offset;
    }
  }
  for (size_t i = 0; i < next.entries_.size(); ++i) {
    const uint32_t jump = next.jump_[i];
    if (jump == kNoJump || out.old_index[i] == XtReplacement::kNew) continue;
    const Entry& e = next.entries_[i];
    const bool moved =
        jump == kFallThrough ? e.offset != entries_[out.old_index[i]].offset : slot_moved[jump];
    if (!moved) continue;
    unsigned char* verdict =
        base + e.offset + Read16(base + e.offset + l.target_offset_at) + kTargetHeader;
    Write32(verdict, static_cast<int32_t>(jump == kFallThrough ? e.offset + e.size
                                                               : slots[jump].first_rule));
  }
  next.blob_ = std::span<const unsigned char>(base, size);
  for (Chain& c : next.chains_) {
    if (c.hook >= 0) continue;
    c.name = std::string_view(reinterpret_cast<const char*>(base + next.entries_[c.first].offset +
                                                            l.entry_size + kTargetHeader),
                              c.name.size());
  }
  next.info_ = out.info;  // the hooks' offsets are known only now
  out.table.emplace(std::move(next));
  return out;
}

}  // namespace kpx
