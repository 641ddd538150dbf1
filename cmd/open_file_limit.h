#pragma once

#include <cstdint>

#include "base/status.h"

namespace kpx {

// Raises the soft RLIMIT_NOFILE to the hard limit, as the Go runtime does at start for every Go
// program (kube-proxy included): container runtimes such as containerd 2.x hand out a soft limit
// of 1024, which a few hundred health-check probes, watch connections and userspace-mode
// listeners exhaust. Returns the soft limit now in force.
Result<uint64_t> RaiseOpenFileLimit();

}  // namespace kpx
