#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kpx {

// kube-proxy's --feature-gates: "Name=bool,Name=bool" (pflag's mapStringBool), and the file's
// `featureGates` map. kube-proxy registers every Kubernetes gate (it shares the binary-wide
// gate registry), so a cluster-wide gate list given to every component must start kpx too;
// a name no Kubernetes 1.33-1.35 component knows, or a GA gate set against its locked value,
// stops the start with kube-proxy's own message.
class FeatureGates {
 public:
  // Parses the flag's text into `out` (later entries win, as in pflag). Errors quote the entry.
  static Status ParseFlag(std::string_view text, std::map<std::string, bool>* out);
  // Checks every name against the known gates; errors use kube-proxy's wording.
  static Status Validate(const std::map<std::string, bool>& gates);
  // True when `name` is a gate kube-proxy knows.
  static bool Known(std::string_view name);
};

}  // namespace kpx
