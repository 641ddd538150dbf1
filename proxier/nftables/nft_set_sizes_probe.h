#pragma once

#include "base/status.h"
#include "proxier/nftables/nft_handle.h"

namespace kpx {

// The scratch table the probe writes and removes ("ip kpx-probe").
inline constexpr char kNftProbeTable[] = "kpx-probe";

// Whether the kernel behind `handle` applies a new size to an existing set, asked the only
// reliable way: a set of size 1 in a scratch table, raised to 2, read back, the table removed.
// Linux 6.5 and later do; older kernels accept the message and keep the old size, which would
// leave kpx adding elements to a full set. Three small transactions, once per process and
// before any sync reads the ruleset's generation. An error (no nf_tables, no permission) is
// returned as such; a refused set or raise is the answer "no".
Result<bool> NftSetSizesUpdate(NftHandle& handle);

}  // namespace kpx
