#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "cmd/kpx_config.h"
#include "k8s-watch/objects/source.h"
#include "k8s-watch/objects/source_stats.h"
#include "proxier/metrics/registry.h"
#include "proxier/proxier.h"

namespace kpx {

// The object source the configuration asks for: a manifest directory (--source) or the API
// server (--kubeconfig, --master, or in-cluster). Its counters are exported through `metrics`.
Result<std::unique_ptr<Source>> MakeSource(const KpxConfig& config, const std::string& node_name,
                                           Proxier& proxier, MetricsRegistry& metrics);

}  // namespace kpx
