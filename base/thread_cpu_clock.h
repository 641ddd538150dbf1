#pragma once

#include <chrono>

namespace kpx {

// CPU time the calling thread has used (user and system, CLOCK_THREAD_CPUTIME_ID): what kpx's
// own work cost, whatever else the machine runs meanwhile, to the microsecond (the process
// figures in /proc count in 10 ms ticks, coarser than a one-endpoint sync).
std::chrono::nanoseconds ThreadCpuTime();

}  // namespace kpx
