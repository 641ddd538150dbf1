#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

std::vector<std::string> JumpRule::RuleArgs() const {
  std::vector<std::string> args = match_args;
  args.push_back("-j");
  args.push_back(target);
  return args;
}

Status IptablesRunner::RestoreInPieces(IpFamily family, std::span<const std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  std::string text;
  text.reserve(size);
  for (std::string_view p : pieces) text += p;
  return Restore(family, text);
}

}  // namespace kpx
