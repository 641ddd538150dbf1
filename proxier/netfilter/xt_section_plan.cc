#include "proxier/netfilter/xt_section_plan.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/page_block.h"
#include "base/slot_index.h"
#include "proxier/netfilter/ipt_entry_encoder.h"
#include "proxier/netfilter/restore_reader.h"

namespace kpx {

Result<XtSectionPlan::Edits> XtSectionPlan::Make(IpFamily family, const RestoreSection& section,
                                                 const XtTableBlob& table, XtRuleArena& arena) {
  using Plan = Edits;
  // The edits are made where they are returned, one per chain named, with what the plan knows
  // of each chain beside them. Room for the declared chains is made up front: a full sync's
  // 110 000 edits (17 MB) were built in a deque and moved into the vector returned, fresh memory
  // written twice.
  struct Known {
    bool exists = false;
    bool builtin = false;
  };
  std::vector<XtChainEdit> edits;
  std::vector<Known> known;
  edits.reserve(section.declared);
  known.reserve(section.declared);
  // Fresh memory that the lookups below read at random as it fills: faulted in 4 KiB at a time
  // and missing the TLB, it was a quarter of a first sync's plan (150 -> 112 ms of CPU at 10 000 x
  // 10).
  if (const size_t bytes = edits.capacity() * sizeof(XtChainEdit);
      bytes >= PageBlock::kHugePageSize) {
    PageBlock::PopulateHuge(edits.data(), bytes);
  }
  // Looked up once per chain declared and once per chain's first rule (a full sync's 110 000
  // each), the table asked only the first time a chain is named. The edits are the slots: a
  // node map of their names cost a malloc each and a cache miss per lookup.
  SlotIndex index;
  std::vector<size_t> hashes;  // per edit
  const std::hash<std::string_view> hash;
  // A chain's rules come one after another: most lines name the chain the line before did.
  size_t last = SIZE_MAX;
  // The chain's edit (valid until the next call: the vector may grow) and what is known of it.
  auto state = [&](std::string_view name) -> size_t {
    if (last < edits.size() && edits[last].name == name) return last;
    // kpx writes the chains' rules in the order it declared them: the next chain is the next
    // edit, found without a hash and a probe that miss the cache (a full sync's 110 000 chains;
    // 98 -> 84 ms of the plan's CPU at 10 000 x 10, warm).
    if (last + 1 < edits.size() && edits[last + 1].name == name) return ++last;
    index.Reserve([&](uint32_t slot) { return hashes[slot]; });
    const size_t h = hash(name);
    const size_t pos =
        index.Find(h, [&](uint32_t slot) { return hashes[slot] == h && edits[slot].name == name; });
    if (const uint32_t found = index.at(pos); found != SlotIndex::kEmpty) {
      last = found;
      return last;
    }
    last = edits.size();
    XtChainEdit& e = edits.emplace_back();
    e.name = name;
    e.keep_rules = true;
    e.after = XtRules(&arena);
    Known& k = known.emplace_back();
    k.exists = table.HasChain(name);
    k.builtin = k.exists && table.IsBuiltin(name);
    hashes.push_back(h);
    index.Insert(pos, static_cast<uint32_t>(last));
    return last;
  };
  // Drops the chain's rules, as a flush (or a creation) does.
  auto empty = [&](size_t i) {
    XtChainEdit& e = edits[i];
    e.keep_rules = false;
    e.remove = false;
    e.before.clear();
    e.after.clear();
    known[i].exists = true;
  };
  const std::string where_table = "x_tables " + section.name + ": ";
  RestoreReader reader(section.pieces, section.first_line);
  bool commands_seen = false;
  for (;;) {
    auto more = reader.Next();
    if (!more.ok()) return Status::Error(where_table + more.status().message());
    if (!*more || reader.kind() == RestoreReader::Kind::kCommit) break;
    if (reader.kind() == RestoreReader::Kind::kTable) continue;
    if (reader.kind() == RestoreReader::Kind::kChain) {
      if (commands_seen) return Plan();
      const size_t i = state(reader.chain().name);
      if (known[i].builtin) return Plan();
      empty(i);
      continue;
    }
    commands_seen = true;
    const RestoreCommand& cmd = reader.command();
    using K = RestoreCommand::Kind;
    const size_t i = state(cmd.chain);
    XtChainEdit& e = edits[i];
    Known& k = known[i];
    if (cmd.kind == K::kDeleteRule || k.builtin) return Plan();
    auto where = [&] { return where_table + "line " + std::to_string(cmd.line) + ": "; };
    if (cmd.kind == K::kNewChain) {
      if (k.exists) {
        return Status::Error(where() + "create " + std::string(cmd.chain) + ": chain exists");
      }
      empty(i);
      continue;
    }
    if (!k.exists) return Status::Error(where() + std::string(cmd.chain) + ": no such chain");
    switch (cmd.kind) {
      case K::kAppend:
      case K::kInsert: {
        Status encoded;
        auto encode = [&](std::vector<unsigned char>& out) {
          encoded = EncodeIptEntryInto(family, cmd.args, out);
          return encoded.ok();
        };
        if (cmd.kind == K::kAppend) {
          e.after.AppendEncoded(encode);
        } else {
          std::vector<unsigned char> entry;
          if (encode(entry)) e.before.Prepend(entry);
        }
        if (!encoded.ok()) return Status::Error(where() + encoded.message());
        break;
      }
      case K::kFlushChain:
        empty(i);
        break;
      case K::kDeleteChain:
        if (!e.before.empty() || !e.after.empty() ||
            (e.keep_rules && table.RuleCount(cmd.chain) > 0)) {
          return Status::Error(where() + "delete " + std::string(cmd.chain) +
                               ": chain is not empty");
        }
        e.remove = true;
        e.keep_rules = false;
        k.exists = false;
        break;
      default:
        break;
    }
  }
  // Created and deleted again: nothing to do in the table.
  std::erase_if(edits, [&](const XtChainEdit& e) { return e.remove && !table.HasChain(e.name); });
  return Plan(std::move(edits));
}

}  // namespace kpx
