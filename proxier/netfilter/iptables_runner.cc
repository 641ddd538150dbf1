#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

std::vector<std::string> JumpRule::RuleArgs() const {
  std::vector<std::string> args = match_args;
  args.push_back("-j");
  args.push_back(target);
  return args;
}

}  // namespace kpx
