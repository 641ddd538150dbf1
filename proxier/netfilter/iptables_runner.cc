#include "proxier/netfilter/iptables_runner.h"

#include "proxier/netfilter/restore_pieces.h"

namespace kpx {

std::vector<std::string> JumpRule::RuleArgs() const {
  std::vector<std::string> args = match_args;
  args.push_back("-j");
  args.push_back(target);
  return args;
}

Result<std::vector<bool>> IptablesRunner::EnsureJumps(IpFamily family,
                                                      std::span<const JumpRule> rules) {
  std::vector<bool> added;
  added.reserve(rules.size());
  for (const JumpRule& rule : rules) {
    auto one = EnsureJump(family, rule);
    if (!one.ok()) return one.status();
    added.push_back(*one);
  }
  return added;
}

Status IptablesRunner::RestoreInPieces(IpFamily family, std::span<const std::string_view> pieces,
                                       std::span<const uint8_t>) {
  return Restore(family, JoinPieces(pieces));
}

}  // namespace kpx
