#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "k8s-watch/client/client_config.h"

namespace kpx {

// Reads a kubeconfig file (clusters, users, contexts, current-context) into a ClientConfig.
// Supports the fields a node agent needs: server, certificate-authority[-data],
// insecure-skip-tls-verify, client-certificate[-data], client-key[-data], token, tokenFile.
// Relative file paths are resolved against the kubeconfig's directory, as kubectl does. Exec and
// auth-provider plugins are refused rather than ignored, so a config that cannot work fails at
// startup. Every error names the offending field, e.g.
// "kubeconfig /etc/kpx/kc: users[admin].user.client-key-data: invalid base64".
class KubeconfigLoader {
 public:
  // `context` overrides current-context when non-empty.
  static Result<ClientConfig> Load(const std::string& path, const std::string& context = "");
  // The same from text; `base_dir` resolves relative paths, `origin` prefixes error messages.
  static Result<ClientConfig> Parse(std::string_view yaml, const std::string& base_dir,
                                    const std::string& origin, const std::string& context = "");
};

}  // namespace kpx
