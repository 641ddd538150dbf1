#pragma once

#include <iosfwd>

#include "cmd/kpx_config.h"

namespace kpx {

// Wires a validated configuration into sources, a proxier and its servers, and runs until
// SIGTERM/SIGINT. Returns the process exit code.
// Desired states printed by --dry-run go to `out`.
int RunKpx(const KpxConfig& config, std::ostream& out);

}  // namespace kpx
