#pragma once

#include <string_view>

#include "proxier/netfilter/command_executor.h"
#include "proxier/netfilter/exec_iptables_runner.h"

namespace kpx {

// What iptables-save printed for one backend (IPv4 and IPv6 outputs concatenated).
struct BackendSnapshot {
  std::string_view mangle;  // "-t mangle" output, where kubelet leaves its hint chains
  std::string_view all;     // every table
};

// Picks the backend the host already uses, as kube-proxy's iptables-wrapper does: a
// KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY chain in the mangle table decides (nft first);
// otherwise legacy only if it holds strictly more rules than nft. Pure.
IptablesFlavor ChooseIptablesFlavor(const BackendSnapshot& nft, const BackendSnapshot& legacy);

// Runs the save tools of both backends and applies ChooseIptablesFlavor. Missing tools count as
// empty output; nft wins ties.
IptablesFlavor DetectIptablesFlavor(CommandExecutor& executor);

}  // namespace kpx
