#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "k8s-watch/objects/status.h"
#include "proxier/dataplane.h"
#include "proxier/iptables/command_executor.h"
#include "proxier/iptables/iptables_options.h"
#include "proxier/iptables/iptables_runner.h"

namespace kpx {

// "--iptables-backend=auto|nft|legacy|libiptc".
std::optional<IptablesBackend> ParseIptablesBackend(std::string_view text);

// The runner for a backend; kAuto detects nft vs legacy from what the host already holds.
std::unique_ptr<IptablesRunner> NewIptablesRunner(IptablesBackend backend,
                                                  std::shared_ptr<CommandExecutor> executor);

// The iptables mode, wired with real adapters: the chosen runner and conntrack(8). Starts
// nothing and touches no kernel state until the first Apply.
std::unique_ptr<Dataplane> NewIptablesDataplane(const IptablesOptions& options);

}  // namespace kpx
