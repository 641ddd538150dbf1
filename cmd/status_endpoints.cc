#include "cmd/status_endpoints.h"

#include <glog/logging.h>

#include "proxier/health/proxier_health.h"

namespace kpx {

StatusEndpoints::StatusEndpoints(const KpxConfig& config, const SyncingProxier& proxier,
                                 MetricsRegistry& metrics)
    : config_(config), proxier_(proxier), metrics_(metrics) {
  // Register the families up front so a scrape shows them before the first probe.
  for (const char* code : {"200", "503"}) {
    metrics_.GetCounter("kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status",
                        {{"code", code}});
    metrics_.GetCounter("kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status",
                        {{"code", code}});
  }
}

HttpServer::Response StatusEndpoints::Health(bool liveness) {
  const auto sync_period =
      config_.mode == ProxyMode::kIpvs ? config_.ipvs.sync_period : config_.iptables.sync_period;
  const auto report =
      ProxierHealth::Evaluate(ProxierHealth::Clock::now(), std::chrono::system_clock::now(),
                              proxier_.OldestPendingChange(), proxier_.LastSuccessfulSyncWall(),
                              2 * sync_period, liveness ? std::nullopt : std::optional<bool>(true));
  metrics_
      .GetCounter(
          liveness ? "kubeproxy_proxy_livez_total" : "kubeproxy_proxy_healthz_total",
          liveness ? "Cumulative proxy livez HTTP status" : "Cumulative proxy healthz HTTP status",
          {{"code", std::to_string(report.code)}})
      ->Inc();
  HttpServer::Response r;
  r.code = report.code;
  r.content_type = "application/json";
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.body = report.body;
  return r;
}

Status StatusEndpoints::Start() {
  if (!config_.healthz_bind_address.empty()) {
    healthz_ = std::make_unique<HttpServer>(config_.healthz_bind_address);
    healthz_->Route("/healthz", [this](const std::string&) { return Health(false); });
    healthz_->Route("/livez", [this](const std::string&) { return Health(true); });
    if (Status st = healthz_->Start(); !st.ok()) return st;
    LOG(INFO) << "serving /healthz and /livez on " << config_.healthz_bind_address;
  }
  if (!config_.metrics_bind_address.empty()) {
    metrics_server_ = std::make_unique<HttpServer>(config_.metrics_bind_address);
    metrics_server_->Route("/metrics", [this](const std::string&) {
      return HttpServer::Response{
          200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Render(), {}};
    });
    metrics_server_->Route("/healthz", [this](const std::string&) { return Health(false); });
    metrics_server_->Route("/proxyMode", [this](const std::string&) {
      return HttpServer::Response{
          200, "text/plain; charset=utf-8", std::string(ProxyModeName(config_.mode)), {}};
    });
    if (Status st = metrics_server_->Start(); !st.ok()) return st;
    LOG(INFO) << "serving /metrics on " << config_.metrics_bind_address;
  }
  return Status::Ok();
}

void StatusEndpoints::Stop() {
  if (healthz_) healthz_->Stop();
  if (metrics_server_) metrics_server_->Stop();
}

}  // namespace kpx
