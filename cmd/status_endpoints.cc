#include "cmd/status_endpoints.h"

#include <glog/logging.h>

#include "proxier/health/proxier_health.h"

namespace kpx {

StatusEndpoints::StatusEndpoints(const KpxConfig& config, const SyncingProxier& proxier,
                                 MetricsRegistry& metrics, const Source* source)
    : config_(config), proxier_(proxier), metrics_(metrics), source_(source) {
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
  auto report =
      ProxierHealth::Evaluate(ProxierHealth::Clock::now(), std::chrono::system_clock::now(),
                              proxier_.OldestPendingChange(), proxier_.LastSuccessfulSyncWall(),
                              2 * sync_period, liveness ? std::nullopt : std::optional<bool>(true));
  // Rules programmed from a source that lost its API server for longer than the same bound may
  // be out of date: not healthy (issue 17). Liveness ignores it: a restart would not help.
  if (!liveness && source_ != nullptr) {
    const auto since = source_->OutOfTouchSince();
    const bool stale = since && std::chrono::steady_clock::now() - *since > 2 * sync_period;
    if (stale) report.code = 503;
    if (stale != reported_stale_.exchange(stale)) {
      if (stale) {
        LOG(WARNING) << "healthz: the object source has been out of touch for more than "
                     << std::chrono::duration_cast<std::chrono::seconds>(2 * sync_period).count()
                     << " s: answering 503";
      } else {
        LOG(INFO) << "healthz: the object source is in touch again";
      }
    }
  }
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

void StatusEndpoints::AddEndpoint(const std::string& name, const std::string& bind) {
  Endpoint endpoint;
  endpoint.name = name;
  endpoint.server = std::make_unique<HttpServer>(bind);
  const HttpServer::Stats* stats = &endpoint.server->stats();
  const MetricsRegistry::Labels labels{{"server", name}};
  metrics_.SetCounterFunc("kpx_http_connections_refused_total",
                          "Connections to kpx's HTTP servers closed at once for being over the "
                          "total or per-client connection limit",
                          labels, [stats] { return double(stats->connections_refused.load()); });
  metrics_.SetCounterFunc("kpx_http_requests_refused_total",
                          "Requests to kpx's HTTP servers refused as malformed, too large or idle",
                          labels, [stats] { return double(stats->requests_refused.load()); });
  metrics_.SetCounterFunc("kpx_http_accept_failures_total",
                          "accept() failures of kpx's HTTP servers (e.g. out of file descriptors)",
                          labels, [stats] { return double(stats->accept_failures.load()); });
  metrics_.SetCounterFunc(
      "kpx_http_requests_timed_out_total",
      "Connections to kpx's HTTP servers closed for not completing a request within the deadline",
      labels, [stats] { return double(stats->requests_timed_out.load()); });
  endpoints_.push_back(std::move(endpoint));
}

Status StatusEndpoints::Start() {
  if (!config_.healthz_bind_address.empty()) {
    AddEndpoint("healthz", config_.healthz_bind_address);
    endpoints_.back().server->Route("/healthz",
                                    [this](const std::string&) { return Health(false); });
    endpoints_.back().server->Route("/livez", [this](const std::string&) { return Health(true); });
  }
  if (!config_.metrics_bind_address.empty()) {
    AddEndpoint("metrics", config_.metrics_bind_address);
    HttpServer& server = *endpoints_.back().server;
    server.Route("/metrics", [this](const std::string&) {
      return HttpServer::Response{
          200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Render(), {}};
    });
    server.Route("/healthz", [this](const std::string&) { return Health(false); });
    server.Route("/proxyMode", [this](const std::string&) {
      return HttpServer::Response{
          200, "text/plain; charset=utf-8", std::string(ProxyModeName(config_.mode)), {}};
    });
  }
  for (const char* name : {"healthz", "metrics"}) {
    metrics_.GetCounter("kpx_http_bind_failures_total",
                        "Failed attempts to bind kpx's status servers", {{"server", name}});
  }
  Status st = StartPending();
  std::lock_guard lock(mu_);
  for (const Endpoint& e : endpoints_) {
    if (!e.serving) {
      retry_ = std::thread([this] { RetryLoop(); });
      break;
    }
  }
  return st;
}

Status StatusEndpoints::StartPending() {
  std::string errors;
  for (Endpoint& e : endpoints_) {
    if (e.serving) continue;
    if (Status st = e.server->Start(); !st.ok()) {
      metrics_
          .GetCounter("kpx_http_bind_failures_total",
                      "Failed attempts to bind kpx's status servers", {{"server", e.name}})
          ->Inc();
      errors += (errors.empty() ? "" : "; ") + e.name + " server: " + st.message();
      continue;
    }
    e.serving = true;
    LOG(INFO) << "serving " << (e.name == "healthz" ? "/healthz and /livez" : "/metrics") << " on "
              << e.server->bind();
  }
  return errors.empty() ? Status::Ok() : Status::Error(errors);
}

void StatusEndpoints::RetryLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (stop_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stopping_; })) return;
    const Status st = StartPending();
    if (st.ok()) return;
    LOG(ERROR) << st.message() << " (retrying in 5 s)";
  }
}

void StatusEndpoints::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (retry_.joinable()) retry_.join();
  for (Endpoint& e : endpoints_) e.server->Stop();
}

StatusEndpoints::~StatusEndpoints() { Stop(); }

}  // namespace kpx
