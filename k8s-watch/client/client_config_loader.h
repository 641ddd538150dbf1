#pragma once

#include <string>

#include "base/status.h"
#include "k8s-watch/client/client_config.h"

namespace kpx {

// Chooses the configuration source the way kube-proxy does: --kubeconfig when given (with
// --master overriding its server), else --master alone (no credentials), else in-cluster.
class ClientConfigLoader {
 public:
  struct Options {
    std::string kubeconfig;
    std::string master;
    std::string context;  // optional override of current-context
  };
  static Result<ClientConfig> Load(const Options& options);
};

}  // namespace kpx
