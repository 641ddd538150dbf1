#include "k8s-watch/client/client_config_loader.h"

#include "k8s-watch/client/in_cluster_config.h"
#include "k8s-watch/client/kubeconfig_loader.h"

namespace kpx {

namespace {

Status CheckMaster(const std::string& master) {
  if (master.starts_with("https://") || master.starts_with("http://")) return Status::Ok();
  return Status::Error("--master \"" + master + "\": must start with https:// or http://");
}

}  // namespace

Result<ClientConfig> ClientConfigLoader::Load(const Options& options) {
  if (!options.master.empty()) {
    if (Status s = CheckMaster(options.master); !s.ok()) return s;
  }
  if (!options.kubeconfig.empty()) {
    Result<ClientConfig> config = KubeconfigLoader::Load(options.kubeconfig, options.context);
    if (!config.ok() || options.master.empty()) return config;
    ClientConfig overridden = std::move(config).value();
    overridden.server = options.master;
    overridden.origin += ", server from --master";
    return overridden;
  }
  if (!options.master.empty()) {
    ClientConfig config;
    config.server = options.master;
    while (config.server.ends_with("/")) config.server.pop_back();
    config.origin = "--master";
    return config;
  }
  return InClusterConfig::Load();
}

}  // namespace kpx
