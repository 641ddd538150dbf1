#include "proxier/netfilter/xt_section_plan.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "base/helper_cpu.h"
#include "base/page_block.h"
#include "base/slot_index.h"
#include "proxier/netfilter/ipt_entry_encoder.h"
#include "proxier/netfilter/restore_reader.h"

namespace kpx {

namespace {

// Pieces of rules only (a full sync's chain texts) from which on the plan shares the reading and
// encoding with a helper thread: fewer are not worth a thread.
constexpr size_t kHandOffFrom = 512;

// What a helper thread made of one piece handed off to it: the encoded rules of the one chain
// all its lines append to. Not ok (not done, not appends to one chain only, or an error in
// them): the plan reads the piece itself, and says what is wrong as it would have.
struct HandedOff {
  bool ok = false;
  std::string_view chain;  // views the piece
  int lines = 0;           // in the piece
  int first_rule = 0;      // the line of its first rule, counted from 1 in the piece
  XtRules rules;
};

// Encodes each of `pieces` into `out` (one each), in order, into `arena`; stops at the first
// piece it cannot take whole, leaving that one and the rest not ok.
void EncodePieces(IpFamily family, std::span<const std::string_view> pieces, XtRuleArena& arena,
                  std::vector<HandedOff>& out) {
  const HelperCpu::Scope cpu;  // counted in the sync's CPU
  std::vector<std::string_view> tokens;
  std::deque<std::string> unescaped;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string_view text = pieces[i];
    HandedOff& h = out[i];
    h.rules = XtRules(&arena);
    size_t pos = 0;
    int line = 0;
    while (pos < text.size()) {
      const std::string_view l = RestoreText::NextLine(text, pos);
      ++line;
      if (l.empty() || l[0] == '#') continue;
      tokens.clear();
      unescaped.clear();
      if (!RestoreText::SplitViews(l, tokens, unescaped).ok() || tokens.size() < 2 ||
          (tokens[0] != "-A" && tokens[0] != "--append")) {
        return;
      }
      if (h.first_rule == 0) {
        // The name must view the piece, not this line's unescaped copy.
        const std::string_view name = tokens[1];
        if (name.data() < text.data() || name.data() + name.size() > text.data() + text.size()) {
          return;
        }
        h.chain = name;
        h.first_rule = line;
      } else if (tokens[1] != h.chain) {
        return;
      }
      Status encoded;
      h.rules.AppendEncoded([&](std::vector<unsigned char>& o) {
        encoded =
            EncodeIptEntryInto(family, std::span<const std::string_view>(tokens).subspan(2), o);
        return encoded.ok();
      });
      if (!encoded.ok()) return;
    }
    if (h.first_rule == 0) return;  // no rule at all: read where it is
    h.lines = line;
    h.ok = true;
  }
}

}  // namespace

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
  // The later half of the pieces of rules only (a full sync's chain texts at 10 000 x 10: 55 000
  // pieces, 160 000 rules) is read and encoded on a helper thread, into the arena's helper,
  // while this one reads the rest; the reader stops at each of them, and this thread takes its
  // rules once the helper is done. Declared before the helper, which is joined first.
  std::vector<uint8_t> handed;  // per piece of the section
  std::vector<size_t> handed_at;
  std::vector<std::string_view> work;
  std::vector<HandedOff> results;
  std::jthread helper;
  if (const size_t rules_pieces =
          static_cast<size_t>(std::count(section.rules_only.begin(), section.rules_only.end(), 1));
      rules_pieces >= kHandOffFrom && HelperCpu::Available() >= 2) {
    handed.assign(section.pieces.size(), 0);
    handed_at.assign(section.pieces.size(), SIZE_MAX);
    size_t seen = 0;
    for (size_t p = 0; p < section.rules_only.size(); ++p) {
      if (section.rules_only[p] == 0 || ++seen <= rules_pieces / 2) continue;
      handed[p] = 1;
      handed_at[p] = work.size();
      work.push_back(section.pieces[p]);
    }
    results.resize(work.size());
    XtRuleArena& side = arena.Helper();
    try {
      helper = std::jthread([&] { EncodePieces(family, work, side, results); });
      reader.HandOff(handed);
    } catch (const std::system_error&) {  // no thread to spare: all read here
    }
  }
  bool commands_seen = false;
  for (;;) {
    auto more = reader.Next();
    if (!more.ok()) return Status::Error(where_table + more.status().message());
    if (!*more || reader.kind() == RestoreReader::Kind::kCommit) break;
    if (reader.kind() == RestoreReader::Kind::kTable) continue;
    if (reader.kind() == RestoreReader::Kind::kPiece) {
      if (helper.joinable()) helper.join();
      HandedOff& h = results[handed_at[reader.piece()]];
      if (!h.ok) {
        reader.ReadPiece();
        continue;
      }
      // As its lines would have been, appends to one chain.
      commands_seen = true;
      const size_t i = state(h.chain);
      XtChainEdit& e = edits[i];
      if (known[i].builtin) return Plan();
      if (!known[i].exists) {
        return Status::Error(where_table + "line " + std::to_string(reader.line() + h.first_rule) +
                             ": " + std::string(h.chain) + ": no such chain");
      }
      if (e.after.empty()) {
        e.after = std::move(h.rules);
      } else {
        for (std::span<const unsigned char> r : h.rules) e.after.Append(r);
      }
      reader.SkipPiece(h.lines);
      continue;
    }
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
