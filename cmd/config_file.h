#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "cmd/kpx_config.h"

namespace kpx {

// Reads a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1, YAML or JSON) on top of
// `base`, then applies kube-proxy's v1alpha1 defaulting (defaults.go): zero durations and empty
// strings become kube-proxy's defaults (minSyncPeriod 0s -> 1s, healthzBindAddress "" ->
// 0.0.0.0:10256 or [::]:10256 for an IPv6 bindAddress), null pointers keep the default, and a
// bind address without a port gets the default port.
//
// Decoding follows kube-proxy's strict-then-lenient v1alpha1 decoding: a field kube-proxy does
// not define (or no longer defines, like conntrack.max or resourceContainer) is ignored with a
// log line naming it, as kube-proxy's lenient decoder does; a value of the wrong type for a field
// kube-proxy defines, bad YAML, or a wrong apiVersion/kind is an error naming the field.
Result<KpxConfig> LoadConfigFile(const std::string& path, KpxConfig base);
// The same, from text (for tests and for reading the file). `ignored`, when given, receives the
// paths of fields that were accepted without effect or without being known.
Result<KpxConfig> ParseConfigText(const std::string& text, KpxConfig base,
                                  std::vector<std::string>* ignored = nullptr);

}  // namespace kpx
