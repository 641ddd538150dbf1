#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "proxier/netfilter/command_executor.h"
#include "proxier/netfilter/iptables_runner.h"

namespace kpx {

// Which iptables implementation a runner drives. kAuto picks nft or legacy like kube-proxy's
// iptables-wrapper does; kLibiptc programs the legacy backend in process. Every mode that writes
// iptables rules (iptables, the ipvs helpers, userspace portals) chooses through this.
enum class IptablesBackend { kAuto, kNft, kLegacy, kLibiptc };

// "--iptables-backend=auto|nft|legacy|libiptc".
std::optional<IptablesBackend> ParseIptablesBackend(std::string_view text);

// The runner for a backend; kAuto detects nft vs legacy from what the host already holds.
std::unique_ptr<IptablesRunner> NewIptablesRunner(IptablesBackend backend,
                                                  std::shared_ptr<CommandExecutor> executor);

}  // namespace kpx
