#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/protocol.h"
#include "proxier/core/service_port_name.h"

namespace kpx {

// One chain's rules as complete "-A CHAIN ..." restore lines (no newline).
struct RenderedChain {
  std::string name;
  std::vector<std::string> rules;
  // The service port whose chain this is; empty for the top-level chains, which every sync
  // rewrites in full.
  std::optional<ServicePortName> owner;
};

struct RenderedTable {
  std::string name;  // "filter" or "nat"
  std::vector<RenderedChain> chains;
  size_t RuleCount() const;
  std::set<std::string> ChainNames() const;
};

// What the renderer says one family's filter and nat tables should hold. Assembling the restore
// text is separate from rendering so that full and partial syncs come from one rendering and the
// full text can be compared byte for byte with the last one applied.
class IptablesRuleset {
 public:
  IptablesRuleset(IpFamily family, RenderedTable filter, RenderedTable nat);

  IpFamily family() const { return family_; }
  const RenderedTable& filter() const { return filter_; }
  const RenderedTable& nat() const { return nat_; }

  // iptables-restore --noflush input: filter then nat. With `only` set, per-service chains are
  // written for those service ports only (declaring a chain flushes it, so the others are not
  // mentioned and keep their rules); top-level chains are always written in full. Chains in
  // `stale_*` are flushed and deleted ("-X") after the rules.
  std::string RestoreText(const std::set<ServicePortName>* only,
                          const std::vector<std::string>& stale_filter,
                          const std::vector<std::string>& stale_nat) const;
  // The full text: RestoreText(nullptr, {}, {}).
  std::string FullText() const { return RestoreText(nullptr, {}, {}); }

 private:
  IpFamily family_;
  RenderedTable filter_;
  RenderedTable nat_;
};

}  // namespace kpx
