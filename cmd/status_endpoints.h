#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "cmd/kpx_config.h"
#include "k8s-watch/objects/source.h"
#include "proxier/metrics/registry.h"
#include "proxier/server/http_server.h"
#include "proxier/syncing_proxier.h"

namespace kpx {

// kube-proxy's two status servers: /healthz and /livez on healthzBindAddress, /metrics (plus
// /healthz and /proxyMode) on metricsBindAddress. An empty address disables that server.
// The servers start independently: one that cannot bind is an error logged at start (and
// counted), never a reason to leave the other one down; like kube-proxy, kpx keeps running and
// retries the failed one every 5 s until it binds.
class StatusEndpoints {
 public:
  // `source` (may be null) makes /healthz answer 503 while it has been out of touch with its API
  // server for longer than two sync periods.
  StatusEndpoints(const KpxConfig& config, const SyncingProxier& proxier, MetricsRegistry& metrics,
                  const Source* source = nullptr);
  ~StatusEndpoints();
  // Starts every configured server; the error names each one that failed (the others serve).
  Status Start();
  void Stop();

 private:
  struct Endpoint {
    std::string name;  // "healthz" or "metrics", the label of its metrics
    std::unique_ptr<HttpServer> server;
    bool serving = false;
  };
  HttpServer::Response Health(bool liveness);
  void AddEndpoint(const std::string& name, const std::string& bind);
  // Starts what is not serving yet; the error lists the failures.
  Status StartPending();
  void RetryLoop();

  const KpxConfig& config_;
  const SyncingProxier& proxier_;
  MetricsRegistry& metrics_;
  const Source* const source_;
  std::atomic<bool> reported_stale_{false};
  std::vector<Endpoint> endpoints_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread retry_;
};

}  // namespace kpx
