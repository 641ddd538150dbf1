#include "proxier/netfilter/libiptc_iptables_runner.h"

// libip6tc.h has no C++ linkage guard of its own.
extern "C" {
#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
}

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include <glog/logging.h>

#include "proxier/netfilter/ipt_entry_encoder.h"
#include "proxier/netfilter/restore_pieces.h"
#include "proxier/netfilter/restore_section.h"
#include "proxier/netfilter/restore_text.h"
#include "proxier/netfilter/xt_rule_arena.h"
#include "proxier/netfilter/xt_section_plan.h"
#include "proxier/netfilter/xt_table_socket.h"

namespace kpx {

namespace {

// The v4/v6 halves of libiptc behind one shape, so the runner is written once.
struct V4 {
  using Entry = ipt_entry;
  static xtc_handle* Init(const char* t) { return iptc_init(t); }
  static void Free(xtc_handle* h) { iptc_free(h); }
  static int Commit(xtc_handle* h) { return iptc_commit(h); }
  static const char* Error(int e) { return iptc_strerror(e); }
  static int IsChain(const char* c, xtc_handle* h) { return iptc_is_chain(c, h); }
  static int Builtin(const char* c, xtc_handle* h) { return iptc_builtin(c, h); }
  static int Create(const char* c, xtc_handle* h) { return iptc_create_chain(c, h); }
  static int Flush(const char* c, xtc_handle* h) { return iptc_flush_entries(c, h); }
  static int Delete(const char* c, xtc_handle* h) { return iptc_delete_chain(c, h); }
  static int Append(const char* c, const void* e, xtc_handle* h) {
    return iptc_append_entry(c, static_cast<const Entry*>(e), h);
  }
  static int Insert(const char* c, const void* e, xtc_handle* h) {
    return iptc_insert_entry(c, static_cast<const Entry*>(e), 0, h);
  }
  static int DeleteEntry(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return iptc_delete_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int Check(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return iptc_check_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int SetPolicy(const char* c, const char* p, xtc_handle* h) {
    return iptc_set_policy(c, p, nullptr, h);
  }
};

struct V6 {
  using Entry = ip6t_entry;
  static xtc_handle* Init(const char* t) { return ip6tc_init(t); }
  static void Free(xtc_handle* h) { ip6tc_free(h); }
  static int Commit(xtc_handle* h) { return ip6tc_commit(h); }
  static const char* Error(int e) { return ip6tc_strerror(e); }
  static int IsChain(const char* c, xtc_handle* h) { return ip6tc_is_chain(c, h); }
  static int Builtin(const char* c, xtc_handle* h) { return ip6tc_builtin(c, h); }
  static int Create(const char* c, xtc_handle* h) { return ip6tc_create_chain(c, h); }
  static int Flush(const char* c, xtc_handle* h) { return ip6tc_flush_entries(c, h); }
  static int Delete(const char* c, xtc_handle* h) { return ip6tc_delete_chain(c, h); }
  static int Append(const char* c, const void* e, xtc_handle* h) {
    return ip6tc_append_entry(c, static_cast<const Entry*>(e), h);
  }
  static int Insert(const char* c, const void* e, xtc_handle* h) {
    return ip6tc_insert_entry(c, static_cast<const Entry*>(e), 0, h);
  }
  static int DeleteEntry(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return ip6tc_delete_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int Check(const char* c, const void* e, unsigned char* m, xtc_handle* h) {
    return ip6tc_check_entry(c, static_cast<const Entry*>(e), m, h);
  }
  static int SetPolicy(const char* c, const char* p, xtc_handle* h) {
    return ip6tc_set_policy(c, p, nullptr, h);
  }
};

// One table opened with libiptc; freed on scope exit, committed explicitly.
template <typename F>
class Handle {
 public:
  static Result<std::unique_ptr<Handle>> Open(const std::string& table) {
    xtc_handle* h = F::Init(table.c_str());
    if (h == nullptr) {
      return Status::Error("libiptc: cannot open table " + table + ": " + F::Error(errno));
    }
    return std::unique_ptr<Handle>(new Handle(h, table));
  }
  ~Handle() { F::Free(h_); }
  xtc_handle* get() { return h_; }
  Status Fail(const std::string& what) const {
    return Status::Error("libiptc " + table_ + ": " + what + ": " + F::Error(errno));
  }
  Status Commit() { return F::Commit(h_) ? Status::Ok() : Fail("commit"); }

 private:
  Handle(xtc_handle* h, std::string table) : h_(h), table_(std::move(table)) {}
  xtc_handle* h_;
  std::string table_;
};

// Applies one section through libiptc: what the blob path declines (built-in chains, -D).
template <typename F>
Status RestoreSectionWithLibiptc(IpFamily family, const RestoreTable& section) {
  auto opened = Handle<F>::Open(section.name);
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  // libiptc takes NUL-terminated names: each is copied out of the text once.
  auto declare = [&](const RestoreChainDecl& decl) -> Status {
    const std::string decl_name(decl.name);
    const char* name = decl_name.c_str();
    if (F::IsChain(name, h.get()) && F::Builtin(name, h.get())) {
      if (decl.policy != "-" && !F::SetPolicy(name, std::string(decl.policy).c_str(), h.get())) {
        return h.Fail("policy " + decl_name);
      }
    } else if (F::IsChain(name, h.get())) {
      if (!F::Flush(name, h.get())) return h.Fail("flush " + decl_name);
    } else if (!F::Create(name, h.get())) {
      return h.Fail("create " + decl_name);
    }
    return Status::Ok();
  };
  auto command = [&](const RestoreCommand& cmd) -> Status {
    const std::string where = "line " + std::to_string(cmd.line) + ": ";
    const std::string chain_name(cmd.chain);
    const char* chain = chain_name.c_str();
    using K = RestoreCommand::Kind;
    switch (cmd.kind) {
      case K::kAppend:
      case K::kInsert:
      case K::kDeleteRule: {
        auto entry = EncodeIptEntry(family, cmd.args);
        if (!entry.ok()) return Status::Error(where + entry.status().message());
        int ok = 0;
        if (cmd.kind == K::kAppend) {
          ok = F::Append(chain, entry->data(), h.get());
        } else if (cmd.kind == K::kInsert) {
          ok = F::Insert(chain, entry->data(), h.get());
        } else {
          std::vector<unsigned char> mask(entry->size(), 0xff);
          ok = F::DeleteEntry(chain, entry->data(), mask.data(), h.get());
        }
        if (!ok) return h.Fail(where + "rule in " + chain_name);
        break;
      }
      case K::kNewChain:
        if (!F::Create(chain, h.get())) return h.Fail(where + "create " + chain_name);
        break;
      case K::kFlushChain:
        if (!F::Flush(chain, h.get())) return h.Fail(where + "flush " + chain_name);
        break;
      case K::kDeleteChain:
        if (!F::Delete(chain, h.get())) return h.Fail(where + "delete " + chain_name);
        break;
    }
    return Status::Ok();
  };
  // In the order of the lines, as iptables-restore takes them: a declaration after a rule of
  // its chain flushes that rule (the blob path leaves such a section to this one).
  size_t d = 0, c = 0;
  while (d < section.chains.size() || c < section.commands.size()) {
    const bool decl_next =
        c == section.commands.size() ||
        (d < section.chains.size() && section.chains[d].line < section.commands[c].line);
    const Status st = decl_next ? declare(section.chains[d++]) : command(section.commands[c++]);
    if (!st.ok()) return st;
  }
  return h.Commit();
}

template <typename F>
Status RestoreFamily(IpFamily family, std::span<const std::string_view> pieces,
                     std::span<const uint8_t> rules_only, bool edit_blobs, XtTableSocket& tables,
                     LibiptcIptablesRunner::Stats& stats) {
  auto sections = RestoreSection::Split(pieces, rules_only);
  if (!sections) {
    const std::string text = JoinPieces(pieces);
    auto parsed = RestoreText::Parse(text);
    return parsed.ok() ? Status::Error("restore input: lines outside a table") : parsed.status();
  }
  for (const RestoreSection& section : *sections) {
    Result<bool> edited = false;
    if (edit_blobs) {
      XtRuleArena arena;
      edited = tables.Edit(
          family, section.name,
          [&](const XtTableBlob& table) {
            return XtSectionPlan::Make(family, section, table, arena);
          },
          &arena);
    }
    if (!edited.ok()) return edited.status();
    if (*edited) {
      ++stats.edited_sections;
      continue;
    }
    if (edit_blobs) {
      VLOG(2) << "x_tables " << section.name << ": section changes built-in chains or deletes "
              << "rules, applied through libiptc";
    }
    // Numbered as in the whole text, as the blob path's errors are.
    const std::string joined = JoinPieces(section.pieces);
    auto parsed = RestoreText::Parse(joined, section.first_line);
    if (!parsed.ok()) return parsed.status();
    // libiptc writes behind the kept copy's back (or may have, on failure).
    tables.Forget(family, section.name);
    if (Status st = RestoreSectionWithLibiptc<F>(family, parsed->front()); !st.ok()) return st;
    ++stats.libiptc_sections;
  }
  return Status::Ok();
}

// Ensures `rules`, all of table `table`, through one libiptc handle and at most one commit;
// per rule, whether it was added. `committed`: whether libiptc wrote the table (checks that find
// every jump write nothing).
template <typename F>
Result<std::vector<bool>> EnsureJumpsFamily(IpFamily family, const std::string& table,
                                            std::span<const JumpRule* const> rules,
                                            bool& committed) {
  auto opened = Handle<F>::Open(table);
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  bool changed = false;
  std::vector<bool> added;
  added.reserve(rules.size());
  for (const JumpRule* rule : rules) {
    if (!F::IsChain(rule->target.c_str(), h.get())) {
      if (!F::Create(rule->target.c_str(), h.get())) return h.Fail("create " + rule->target);
      changed = true;
    }
    auto entry = EncodeIptEntry(family, rule->RuleArgs());
    if (!entry.ok()) return entry.status();
    std::vector<unsigned char> mask(entry->size(), 0xff);
    const bool present = F::Check(rule->chain.c_str(), entry->data(), mask.data(), h.get());
    if (!present) {
      const int ok = rule->prepend ? F::Insert(rule->chain.c_str(), entry->data(), h.get())
                                   : F::Append(rule->chain.c_str(), entry->data(), h.get());
      if (!ok) return h.Fail("add jump to " + rule->chain);
      changed = true;
    }
    added.push_back(!present);
  }
  if (changed) {
    committed = true;  // or half of it: a failed commit is no reason to trust the kept copy
    if (Status st = h.Commit(); !st.ok()) return st;
  }
  return added;
}

template <typename F>
Result<bool> DeleteJumpFamily(IpFamily family, const JumpRule& rule, bool& committed) {
  auto opened = Handle<F>::Open(rule.table);
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  if (!F::IsChain(rule.target.c_str(), h.get())) return false;  // nothing can jump to it
  auto entry = EncodeIptEntry(family, rule.RuleArgs());
  if (!entry.ok()) return entry.status();
  std::vector<unsigned char> mask(entry->size(), 0xff);
  bool found = false;
  while (F::DeleteEntry(rule.chain.c_str(), entry->data(), mask.data(), h.get())) found = true;
  if (found) {
    committed = true;
    if (Status st = h.Commit(); !st.ok()) return st;
  }
  return found;
}

template <typename F>
Status DeleteChainsFamily(std::string_view table, const std::vector<std::string>& chains) {
  auto opened = Handle<F>::Open(std::string(table));
  if (!opened.ok()) return opened.status();
  auto& h = *opened.value();
  std::vector<const std::string*> present;
  for (const auto& c : chains) {
    if (F::IsChain(c.c_str(), h.get()) && !F::Builtin(c.c_str(), h.get())) present.push_back(&c);
  }
  if (present.empty()) return Status::Ok();
  for (const auto* c : present) {
    if (!F::Flush(c->c_str(), h.get())) return h.Fail("flush " + *c);
  }
  for (const auto* c : present) {
    if (!F::Delete(c->c_str(), h.get())) return h.Fail("delete " + *c);
  }
  return h.Commit();
}

}  // namespace

LibiptcIptablesRunner::LibiptcIptablesRunner() : LibiptcIptablesRunner(Options()) {}

namespace {

// The socket always leaves the counters hand-over to the runner, which makes it on its thread
// or at once (Options::defer_counters): one path, whose failures the metric counts.
XtTableSocket::Options TablesOptions(const LibiptcIptablesRunner::Options& options) {
  XtTableSocket::Options tables = options.tables;
  tables.defer_counters = true;
  return tables;
}

}  // namespace

LibiptcIptablesRunner::LibiptcIptablesRunner(const Options& options)
    : edit_blobs_(options.edit_blobs),
      defer_counters_(options.defer_counters),
      lock_(options.lock_path.empty() ? nullptr : std::make_unique<XtablesLock>(options.lock_path)),
      lock_wait_(options.lock_wait),
      tables_(TablesOptions(options)) {
  if (lock_ && !options.tables.others_may_have_written) {
    tables_.Watch([lock = lock_.get()] { return lock->OthersMayHaveWrittenSinceLastCall(); });
  }
}

// Before the members go: the hand-over's guard must not outlive the lock.
LibiptcIptablesRunner::~LibiptcIptablesRunner() { FinishCounters(); }

void LibiptcIptablesRunner::HandOverCounters() {
  for (const XtCountersHandOver& h : handing_over_) {
    const auto start = std::chrono::steady_clock::now();
    auto made = h.Run();
    if (!made.ok()) {
      counters_failures_.fetch_add(1, std::memory_order_relaxed);
      LOG(WARNING) << made.status().message()
                   << " (the rules are in; only their counters are lost)";
    } else if (*made) {
      VLOG(2) << "x_tables " << h.table() << ": counters handed over in "
              << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count()
              << " ms" << (defer_counters_ ? ", after the restore returned" : "");
    }
  }
  handing_over_.clear();
  handing_over_lock_.reset();  // the xtables lock, held since the replace
}

void LibiptcIptablesRunner::FinishCounters() {
  if (counters_.joinable()) counters_.join();
}

Result<std::optional<XtablesLock::Guard>> LibiptcIptablesRunner::Lock() {
  // The last restore's hand-over holds the lock, and its tables must not be written before it.
  FinishCounters();
  if (!lock_) return std::optional<XtablesLock::Guard>();
  auto guard = lock_->Acquire(lock_wait_);
  if (guard.ok()) return std::optional<XtablesLock::Guard>(std::move(guard.value()));
  // A file nobody here can open (no /run in a bare container, a read-only mount) excludes no
  // one: failing every sync for it would only leave the rules stale. The watch then answers
  // "maybe written" every time, so kept tables are always read back.
  if (!lock_->Openable()) {
    LOG_FIRST_N(WARNING, 1) << guard.status().message()
                            << "; writing x_tables without the xtables lock";
    return std::optional<XtablesLock::Guard>();
  }
  return guard.status();
}

Result<std::optional<XtablesLock::Guard>> LibiptcIptablesRunner::LockForLibiptc(
    IpFamily family, const std::string& table) {
  auto guard = Lock();
  // libiptc commits behind the kept copy's back.
  if (guard.ok()) tables_.Forget(family, table);
  return guard;
}

Status LibiptcIptablesRunner::Restore(IpFamily family, std::string_view text) {
  return RestoreInPieces(family, std::span<const std::string_view>(&text, 1), {});
}

Status LibiptcIptablesRunner::RestoreInPieces(IpFamily family,
                                              std::span<const std::string_view> pieces,
                                              std::span<const uint8_t> rules_only) {
  auto guard = Lock();
  if (!guard.ok()) return guard.status();
  Status restored =
      family == IpFamily::kIPv4
          ? RestoreFamily<V4>(family, pieces, rules_only, edit_blobs_, tables_, stats_)
          : RestoreFamily<V6>(family, pieces, rules_only, edit_blobs_, tables_, stats_);
  // Even after a failed restore: a table replaced before the failure still wants its counters.
  std::vector<XtCountersHandOver> pending = tables_.TakePendingCounters();
  if (pending.empty()) return restored;
  handing_over_ = std::move(pending);
  handing_over_lock_ = std::move(guard.value());
  if (!defer_counters_) {
    HandOverCounters();
    return restored;
  }
  ++stats_.deferred_restores;
  try {
    counters_ = std::thread([this] { HandOverCounters(); });
  } catch (const std::system_error& e) {
    LOG(WARNING) << "no thread for the counters hand-over (" << e.what() << "): made now";
    HandOverCounters();
  }
  return restored;
}

void LibiptcIptablesRunner::RecordMetrics(MetricsRegistry& metrics) const {
  const char* kEdits = "kpx_iptables_table_edits_total";
  const char* kEditsHelp =
      "x_tables edits by what they started from: the table kpx kept from its last write, or the "
      "table read back from the kernel";
  const XtTableSocket::Stats& t = tables_.stats();
  metrics.GetCounter(kEdits, kEditsHelp, {{"start", "kept"}})
      ->Set(static_cast<double>(t.kept_uses));
  metrics.GetCounter(kEdits, kEditsHelp, {{"start", "read"}})->Set(static_cast<double>(t.reads));
  metrics
      .GetCounter("kpx_iptables_counters_handover_failures_total",
                  "Replaced x_tables tables whose kept rules' counters could not be handed over "
                  "(only statistics are lost)")
      ->Set(static_cast<double>(counters_failures_.load(std::memory_order_relaxed)));
  metrics
      .GetCounter("kpx_iptables_kept_tables_dropped_total",
                  "Kept tables found possibly changed by another writer (table info, the xtables "
                  "lock's watch) or due to be read back")
      ->Set(static_cast<double>(t.kept_dropped));
}

// Without the lock, like iptables-legacy-save: a read that races a replace is retried (EAGAIN).
Result<std::string> LibiptcIptablesRunner::Save(IpFamily family, std::string_view table) {
  FinishCounters();
  std::string out = "*" + std::string(table) + "\n";
  Status st = XtTableSocket::Read(family, std::string(table), [&](const XtTableBlob& blob) {
    for (const auto& c : blob.Chains()) {
      out.push_back(':');
      out += c.name;
      out.push_back(' ');
      out += c.policy;
      out += " [0:0]\n";
    }
  });
  if (!st.ok()) return st;
  return out + "COMMIT\n";
}

// The jumps are checked on every full sync, and mostly found: only a commit makes the kept copy
// of the table stale. Forgetting it on every check made the next edit of a 540 000-entry nat
// table read it back first (0.2-0.4 s of each periodic full resync at 10 000 x 10).
Result<bool> LibiptcIptablesRunner::EnsureJump(IpFamily family, const JumpRule& rule) {
  auto added = EnsureJumps(family, std::span<const JumpRule>(&rule, 1));
  if (!added.ok()) return added.status();
  return static_cast<bool>(added->front());
}

// Each table opened once for all its jumps: libiptc reads and parses the whole table on every
// open, and a full sync's three nat jumps each read the 540 000-entry nat table (~0.8 s of a
// periodic full resync at 10 000 x 10). Tables in the order their first jump comes.
Result<std::vector<bool>> LibiptcIptablesRunner::EnsureJumps(IpFamily family,
                                                             std::span<const JumpRule> rules) {
  auto guard = Lock();
  if (!guard.ok()) return guard.status();
  std::vector<bool> added(rules.size(), false);
  std::vector<bool> done(rules.size(), false);
  for (size_t first = 0; first < rules.size(); ++first) {
    if (done[first]) continue;
    const std::string& table = rules[first].table;
    std::vector<const JumpRule*> of_table;
    std::vector<size_t> at;
    for (size_t i = first; i < rules.size(); ++i) {
      if (rules[i].table != table) continue;
      of_table.push_back(&rules[i]);
      at.push_back(i);
      done[i] = true;
    }
    bool committed = false;
    auto ensured = family == IpFamily::kIPv4
                       ? EnsureJumpsFamily<V4>(family, table, of_table, committed)
                       : EnsureJumpsFamily<V6>(family, table, of_table, committed);
    if (committed) tables_.Forget(family, table);
    if (!ensured.ok()) return ensured.status();
    for (size_t k = 0; k < at.size(); ++k) added[at[k]] = (*ensured)[k];
  }
  return added;
}

Result<bool> LibiptcIptablesRunner::DeleteJump(IpFamily family, const JumpRule& rule) {
  auto guard = Lock();
  if (!guard.ok()) return guard.status();
  bool committed = false;
  auto deleted = family == IpFamily::kIPv4 ? DeleteJumpFamily<V4>(family, rule, committed)
                                           : DeleteJumpFamily<V6>(family, rule, committed);
  if (committed) tables_.Forget(family, rule.table);
  return deleted;
}

Status LibiptcIptablesRunner::DeleteChains(IpFamily family, std::string_view table,
                                           const std::vector<std::string>& chains) {
  auto guard = LockForLibiptc(family, std::string(table));
  if (!guard.ok()) return guard.status();
  return family == IpFamily::kIPv4 ? DeleteChainsFamily<V4>(table, chains)
                                   : DeleteChainsFamily<V6>(table, chains);
}

}  // namespace kpx
