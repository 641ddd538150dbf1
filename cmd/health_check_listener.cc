#include "cmd/health_check_listener.h"

namespace kpx {

HttpServer::Response HealthCheckHttpListener::Respond(const ServiceHealthEntry& entry,
                                                      bool proxier_healthy) {
  HttpServer::Response r;
  r.code = entry.local_endpoints > 0 && proxier_healthy ? 200 : 503;
  r.content_type = "application/json";
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.headers["X-Load-Balancing-Endpoint-Weight"] = std::to_string(entry.local_endpoints);
  // Namespace and name passed the API's DNS-label validation, so they need no JSON escaping.
  r.body = "{\"service\": {\"namespace\": \"" + entry.namespace_ + "\", \"name\": \"" + entry.name +
           "\"}, \"localEndpoints\": " + std::to_string(entry.local_endpoints) +
           ", \"serviceProxyHealthy\": " + (proxier_healthy ? "true" : "false") + "}";
  return r;
}

Result<std::unique_ptr<HealthCheckListener>> HealthCheckHttpListener::Open(
    const std::string& bind_ip, int32_t port, HealthCheckResponder responder,
    std::function<bool()> proxier_healthy, std::shared_ptr<HttpServer::Stats> stats) {
  const std::string host = bind_ip.find(':') != std::string::npos ? "[" + bind_ip + "]" : bind_ip;
  HttpServer::Options options;
  options.stats = std::move(stats);
  std::unique_ptr<HealthCheckHttpListener> l(
      new HealthCheckHttpListener(host + ":" + std::to_string(port), std::move(options)));
  // Load balancers probe any path; kube-proxy answers them all alike.
  l->server_.Fallback([responder, proxier_healthy](const std::string&) {
    return Respond(responder(), proxier_healthy());
  });
  if (Status st = l->server_.Start(); !st.ok()) return st;
  return std::unique_ptr<HealthCheckListener>(std::move(l));
}

}  // namespace kpx
