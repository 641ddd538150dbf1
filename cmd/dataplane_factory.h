#pragma once

#include <memory>
#include <ostream>

#include "base/status.h"
#include "cmd/kpx_config.h"
#include "proxier/dataplane.h"
#include "proxier/metrics/registry.h"

namespace kpx {

// The Dataplane for config.mode (or the printing one for --dry-run). A mode this build cannot run
// is an error with a message saying so, never a stand-in that pretends to work.
Result<std::unique_ptr<Dataplane>> MakeDataplane(const KpxConfig& config, std::ostream& out,
                                                 MetricsRegistry& metrics);

}  // namespace kpx
