#pragma once

#include <memory>

#include "proxier/dataplane.h"
#include "proxier/userspace/userspace_options.h"

namespace kpx {

// The userspace mode, wired with real adapters: the iptables runner for options.backend (as the
// iptables mode selects it) and the epoll/splice relay engine. Starts no thread and touches no
// kernel state until the first Apply. The returned object is a UserspaceDataplane; its counters()
// feed the metrics.
std::unique_ptr<Dataplane> NewUserspaceDataplane(const UserspaceOptions& options);

}  // namespace kpx
