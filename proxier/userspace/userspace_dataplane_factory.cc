#include "proxier/userspace/userspace_dataplane_factory.h"

#include "proxier/netfilter/iptables_backend.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "proxier/userspace/epoll_relay_engine.h"
#include "proxier/userspace/userspace_dataplane.h"

namespace kpx {

std::unique_ptr<Dataplane> NewUserspaceDataplane(const UserspaceOptions& options) {
  auto runner = NewIptablesRunner(options.backend, std::make_shared<SubprocessExecutor>());
  return std::make_unique<UserspaceDataplane>(options, std::move(runner),
                                              std::make_unique<EpollRelayEngine>(options));
}

}  // namespace kpx
