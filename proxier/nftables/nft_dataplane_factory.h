#pragma once

#include <memory>

#include "base/status.h"
#include "proxier/dataplane.h"
#include "proxier/nftables/nft_options.h"

namespace kpx {

// The nftables mode with its real adapters: a netlink socket (libmnl) and conntrack.
Result<std::unique_ptr<Dataplane>> NewNftDataplane(const NftOptions& options);

}  // namespace kpx
