#pragma once

#include <functional>
#include <string>

#include "base/status.h"
#include "k8s-watch/client/client_config.h"

namespace kpx {

// The configuration of a pod's service account: KUBERNETES_SERVICE_HOST/PORT for the server,
// <dir>/ca.crt as the only trust anchor and <dir>/token as a rotating bearer token file.
class InClusterConfig {
 public:
  static constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

  // Reads the process environment and kServiceAccountDir.
  static Result<ClientConfig> Load();
  // Injectable for tests: `getenv` returns nullptr for unset variables.
  static Result<ClientConfig> Load(const std::function<const char*(const char*)>& getenv,
                                   const std::string& service_account_dir);
};

}  // namespace kpx
