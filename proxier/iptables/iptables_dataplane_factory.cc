#include "proxier/iptables/iptables_dataplane_factory.h"

#include "proxier/iptables/iptables_dataplane.h"
#include "proxier/netfilter/iptables_backend.h"
#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/netfilter/subprocess_executor.h"

namespace kpx {

std::unique_ptr<Dataplane> NewIptablesDataplane(const IptablesOptions& options) {
  auto executor = std::make_shared<SubprocessExecutor>();
  return std::make_unique<IptablesDataplane>(options, NewIptablesRunner(options.backend, executor),
                                             std::make_unique<NetlinkConntrack>());
}

}  // namespace kpx
