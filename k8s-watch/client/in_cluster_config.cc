#include "k8s-watch/client/in_cluster_config.h"

#include <cstdlib>

#include "k8s-watch/client/text_file.h"

namespace kpx {

Result<ClientConfig> InClusterConfig::Load() {
  return Load([](const char* name) -> const char* { return std::getenv(name); },
              kServiceAccountDir);
}

Result<ClientConfig> InClusterConfig::Load(const std::function<const char*(const char*)>& getenv,
                                           const std::string& service_account_dir) {
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    return Status::Error(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(or pass --kubeconfig or --master)");
  }
  ClientConfig config;
  const std::string h(host);
  // An IPv6 service host needs brackets in a URL.
  const bool ipv6 = h.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + h + "]" : h) + ":" + port;
  config.origin = "in-cluster service account " + service_account_dir;

  Result<std::string> ca = TextFile::Read(service_account_dir + "/ca.crt");
  if (!ca.ok()) return Status::Error("in-cluster config: ca.crt: " + ca.status().message());
  config.certificate_authority_pem = std::move(ca).value();

  config.token_file = service_account_dir + "/token";
  Result<std::string> token = TextFile::Read(config.token_file);
  if (!token.ok()) return Status::Error("in-cluster config: token: " + token.status().message());
  return config;
}

}  // namespace kpx
