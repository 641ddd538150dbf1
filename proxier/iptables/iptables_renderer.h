#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "proxier/core/desired_state.h"
#include "proxier/iptables/chain_texts.h"
#include "proxier/iptables/iptables_options.h"
#include "proxier/iptables/iptables_ruleset.h"
#include "proxier/iptables/service_fragment.h"
#include "proxier/netfilter/iptables_runner.h"
#include "proxier/netfilter/local_traffic_detector.h"

namespace kpx {

// What every service port's rendering in one family depends on besides the port itself; derived
// once per sync from the options and the node.
struct FamilyContext {
  IpFamily family = IpFamily::kIPv4;
  std::string mark;  // the masquerade mark, "0x4000"
  LocalTrafficDetector detector;
  std::optional<IpAddress> node_ip;  // the Node object's first address of the family
  // kube-proxy's large-cluster mode: per-endpoint comments are left out (see iptables_options.h).
  bool large_cluster = false;
};

// Pure: the filter and nat rules of one family, following kube-proxy's iptables proxier rule for
// rule (chain layout, comments, order, probabilities), so that behaviour and diagnostics carry
// over. Rendering is split into the top-level part and one fragment per service port so the
// dataplane can cache fragments and re-render only what changed (IptablesFamilyRules assembles
// them). Identical inputs give byte-identical output. Thread-compatible.
class IptablesRenderer {
 public:
  explicit IptablesRenderer(IptablesOptions options);

  FamilyContext Context(const NodeState& node, IpFamily family, bool large_cluster) const;
  // Whether `endpoints` (every endpoint of the family, summed over all service ports) makes the
  // cluster large in kube-proxy's sense.
  bool LargeCluster(size_t endpoints) const;

  // `local_addresses` are this host's addresses (any family); they matter only when
  // options.node_port_addresses restricts NodePorts to some of them.
  TopLevelRules RenderTopLevel(const DesiredState& state, IpFamily family,
                               const std::vector<IpAddress>& local_addresses) const;
  // One service port's fragment (empty when the port has no cluster IP of the family). `names`
  // carries the port's chain names from its previous rendering, or nothing, and is updated.
  // The owned chains' texts are copied into `texts` and view it.
  ServiceFragment RenderServicePort(const ServicePortState& port, const FamilyContext& context,
                                    ServiceChainNames& names, ChainTexts& texts) const;

  // The complete iptables-restore input of a fresh full render of `state` (no stale chains):
  // what a full sync of an empty kernel writes. For tests and tools.
  std::string Render(const DesiredState& state, IpFamily family,
                     const std::vector<IpAddress>& local_addresses) const;

  const IptablesOptions& options() const { return options_; }

 private:
  IptablesOptions options_;
};

// The jumps from built-in chains into kpx's chains for `family`, in the order kube-proxy adds
// them. Cleanup deletes exactly these.
std::vector<JumpRule> KpxJumpRules(IpFamily family, const IptablesOptions& options);

}  // namespace kpx
