#pragma once

#include <string>

#include "base/status.h"

namespace kpx::testing {

// A network namespace for the whole test process, for tests that bind fixed loopback addresses
// and ports: in the host namespace two runs at once (two engineers, parallel CTest) would take
// each other's ports. Unlike TestNetns it has no name in /run/netns and nothing to clean up: the
// kernel frees it when the process exits, however it exits.

// Why this process cannot have a network namespace of its own (no CAP_SYS_ADMIN), or "" if it
// can.
std::string PrivateNetnsUnavailable();

// Moves the process into a new network namespace and brings its loopback up (127.0.0.0/8 and
// ::1). Only the calling thread moves (unshare), so the process must not have started any other
// thread yet: an error says so instead of leaving some threads in the host namespace. Threads and
// children started afterwards inherit the namespace.
Status EnterPrivateNetns();

}  // namespace kpx::testing
