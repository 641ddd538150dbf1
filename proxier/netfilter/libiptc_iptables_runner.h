#pragma once

#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

// IptablesRunner for the legacy (x_tables) backend, in process through libiptc: each restore
// section is parsed with RestoreText/RuleSpec (we own the format on both ends), applied to an
// in-memory copy of the table and committed with one iptc_commit, so it is atomic per table like
// iptables-legacy-restore, without a fork per sync.
//
// Supports exactly the rule vocabulary kpx renders: -s/-d/-p/-i with negation; matches comment,
// tcp/udp/sctp --dport, addrtype --src-type/--dst-type, statistic random, recent, mark,
// conntrack --ctstate; targets ACCEPT/DROP/RETURN, chain jumps, MARK, DNAT, MASQUERADE, REJECT.
// Anything else fails the restore with a clear error. Save() lists chains and policies only
// (no rules): the dataplane needs chain names, and rules would need decoding every extension.
class LibiptcIptablesRunner : public IptablesRunner {
 public:
  std::string_view Name() const override { return "libiptc"; }
  Status Restore(IpFamily family, std::string_view text) override;
  Result<std::string> Save(IpFamily family, std::string_view table) override;
  Result<bool> EnsureJump(IpFamily family, const JumpRule& rule) override;
  Result<bool> DeleteJump(IpFamily family, const JumpRule& rule) override;
  Status DeleteChains(IpFamily family, std::string_view table,
                      const std::vector<std::string>& chains) override;
};

// Encodes one rule as the ipt_entry/ip6t_entry bytes libiptc takes. Exposed for tests.
Result<std::vector<unsigned char>> EncodeIptEntry(IpFamily family,
                                                  const std::vector<std::string>& args);

}  // namespace kpx
