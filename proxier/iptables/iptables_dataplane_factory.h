#pragma once

#include <memory>

#include "proxier/dataplane.h"
#include "proxier/iptables/iptables_options.h"

namespace kpx {

// The iptables mode, wired with real adapters: the chosen runner and conntrack(8). Starts
// nothing and touches no kernel state until the first Apply.
std::unique_ptr<Dataplane> NewIptablesDataplane(const IptablesOptions& options);

}  // namespace kpx
