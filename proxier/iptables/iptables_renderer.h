#pragma once

#include <vector>

#include "base/ip_address.h"
#include "proxier/core/desired_state.h"
#include "proxier/iptables/iptables_options.h"
#include "proxier/iptables/iptables_ruleset.h"
#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

// Pure: DesiredState -> the filter and nat rules of one family, following kube-proxy's iptables
// proxier rule for rule (chain layout, comments, order, probabilities), so that behaviour and
// diagnostics carry over. Identical inputs give byte-identical output: services are visited in
// ServiceMap order and endpoints in EndpointSelection order. Thread-compatible.
class IptablesRenderer {
 public:
  explicit IptablesRenderer(IptablesOptions options);

  // `local_addresses` are this host's addresses (any family); they matter only when
  // options.node_port_addresses restricts NodePorts to some of them.
  IptablesRuleset Render(const DesiredState& state, IpFamily family,
                         const std::vector<IpAddress>& local_addresses) const;

  const IptablesOptions& options() const { return options_; }

 private:
  IptablesOptions options_;
};

// The jumps from built-in chains into kpx's chains for `family`, in the order kube-proxy adds
// them. Cleanup deletes exactly these.
std::vector<JumpRule> KpxJumpRules(IpFamily family, const IptablesOptions& options);

}  // namespace kpx
