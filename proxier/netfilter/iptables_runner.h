#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/protocol.h"
#include "base/status.h"
#include "proxier/metrics/registry.h"

namespace kpx {

// A rule in a built-in chain that sends traffic into one of kpx's chains, e.g.
// "-t nat -I PREROUTING -m comment --comment ... -j KUBE-SERVICES".
struct JumpRule {
  std::string table;                    // "nat" or "filter"
  std::string chain;                    // built-in source chain: PREROUTING, OUTPUT, ...
  std::vector<std::string> match_args;  // everything before "-j"
  std::string target;                   // kpx chain jumped to
  bool prepend = true;                  // inserted first (kube-proxy) rather than appended

  // match_args followed by "-j target".
  std::vector<std::string> RuleArgs() const;
  bool operator==(const JumpRule&) const = default;
};

// The narrow seam between the iptables dataplane and the kernel. One instance serves both
// families. Implementations: ExecIptablesRunner (iptables-restore & co. via fork/exec),
// LibiptcIptablesRunner (legacy backend, in process) and FakeIptablesRunner (stateful, for tests).
// Not thread-safe; the dataplane calls it from the sync thread only.
class IptablesRunner {
 public:
  virtual ~IptablesRunner() = default;
  virtual std::string_view Name() const = 0;
  // Applies iptables-restore text (any number of "*table ... COMMIT" sections) with --noflush
  // semantics: declared user chains are created or flushed, undeclared chains and rules are kept.
  // All-or-nothing per table section.
  virtual Status Restore(IpFamily family, std::string_view text) = 0;
  // The same for input in pieces of whole lines (RestorePieces), read as if joined. This
  // default joins them and calls Restore; the libiptc runner reads them where they lie.
  // `rules_only[i]`, when given: pieces[i] holds rule lines ("-A ...") only, so a reader looking
  // for the text's sections need not read it (a full sync's 110 000 chain texts).
  virtual Status RestoreInPieces(IpFamily family, std::span<const std::string_view> pieces,
                                 std::span<const uint8_t> rules_only);
  Status RestoreInPieces(IpFamily family, std::span<const std::string_view> pieces) {
    return RestoreInPieces(family, pieces, {});
  }
  // Whether RestoreInPieces reads the pieces where they lie. When it only joins them, a caller
  // that can free its parts as it copies them into one string had better call Restore.
  virtual bool ReadsPieces() const { return false; }
  // iptables-save output for one table.
  virtual Result<std::string> Save(IpFamily family, std::string_view table) = 0;
  // Creates rule.target if missing and adds the jump unless an identical rule exists. Returns
  // whether the rule was added.
  virtual Result<bool> EnsureJump(IpFamily family, const JumpRule& rule) = 0;
  // EnsureJump for each of `rules`, in order; per rule, whether it was added. This default
  // makes one call each; the libiptc runner opens and commits each table once for all of them
  // (a full sync's nat jumps each read the whole nat table through libiptc).
  virtual Result<std::vector<bool>> EnsureJumps(IpFamily family, std::span<const JumpRule> rules);
  // Deletes the jump if present (every copy). Returns whether one was found.
  virtual Result<bool> DeleteJump(IpFamily family, const JumpRule& rule) = 0;
  // Flushes and deletes the named user chains of `table` that exist; missing ones are ignored.
  virtual Status DeleteChains(IpFamily family, std::string_view table,
                              const std::vector<std::string>& chains) = 0;
  // The runner's own counters, if it has any (the dataplane records its own besides).
  virtual void RecordMetrics(MetricsRegistry& metrics) const {}
};

}  // namespace kpx
