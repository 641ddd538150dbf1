#pragma once

#include <string>

#include "base/status.h"

namespace kpx {

// kube-proxy's --oom-score-adj: written to /proc/self/oom_score_adj at start so that the OOM
// killer spares the node's proxy (kube-proxy's default -999). `path` is injectable for tests.
Status ApplyOomScoreAdj(int value, const std::string& path = "/proc/self/oom_score_adj");

}  // namespace kpx
