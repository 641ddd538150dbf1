#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "cmd/kpx_config.h"
#include "proxier/metrics/registry.h"
#include "proxier/server/http_server.h"
#include "proxier/syncing_proxier.h"

namespace kpx {

// kube-proxy's two status servers: /healthz and /livez on healthzBindAddress, /metrics (plus
// /healthz and /proxyMode) on metricsBindAddress. An empty address disables that server.
class StatusEndpoints {
 public:
  StatusEndpoints(const KpxConfig& config, const SyncingProxier& proxier, MetricsRegistry& metrics);
  Status Start();
  void Stop();

 private:
  HttpServer::Response Health(bool liveness);

  const KpxConfig& config_;
  const SyncingProxier& proxier_;
  MetricsRegistry& metrics_;
  std::unique_ptr<HttpServer> healthz_;
  std::unique_ptr<HttpServer> metrics_server_;
};

}  // namespace kpx
