#pragma once

#include <string>

#include "base/status.h"
#include "cmd/kpx_config.h"

namespace kpx {

// Reads a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1, YAML or JSON) on top of
// `base`. Every field kube-proxy defines is recognised; those kpx acts on are applied, the rest
// are accepted and ignored (logged when set), so a kubeadm-generated file loads unchanged.
// A field kube-proxy does not define, or a bad value, is an error naming the field.
Result<KpxConfig> LoadConfigFile(const std::string& path, KpxConfig base);
// The same, from text (for tests and for reading the file).
Result<KpxConfig> ParseConfigText(const std::string& text, KpxConfig base);

}  // namespace kpx
