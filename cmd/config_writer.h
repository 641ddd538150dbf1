#pragma once

#include <string>

#include "cmd/kpx_config.h"

namespace kpx {

// kube-proxy's --write-config-to: the effective configuration as a v1alpha1
// KubeProxyConfiguration that kpx (and kube-proxy) read back to the same settings.
std::string RenderConfigYaml(const KpxConfig& config);

}  // namespace kpx
