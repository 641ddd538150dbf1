#pragma once

#include "base/status.h"
#include "cmd/flag_set.h"
#include "cmd/kpx_config.h"

namespace kpx {

// Binds kube-proxy's flag names (and kpx's few additions) to `config`.
void RegisterKpxFlags(FlagSet& flags, KpxConfig& config);

// Checks values that flags and the config file can both set. Startup misconfiguration is fatal
// with this message (exit 2).
Status ValidateConfig(const KpxConfig& config);

}  // namespace kpx
