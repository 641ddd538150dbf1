#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "proxier/health/service_health.h"
#include "proxier/server/http_server.h"

namespace kpx {

// A health-check node port served over HTTP the way kube-proxy answers load balancers: 200 with
// the local endpoint count while this node has endpoints (and the proxier is healthy), else 503.
class HealthCheckHttpListener final : public HealthCheckListener {
 public:
  static Result<std::unique_ptr<HealthCheckListener>> Open(const std::string& bind_ip, int32_t port,
                                                           HealthCheckResponder responder,
                                                           std::function<bool()> proxier_healthy);
  // The response for an entry; pure, for tests.
  static HttpServer::Response Respond(const ServiceHealthEntry& entry, bool proxier_healthy);

 private:
  explicit HealthCheckHttpListener(std::string bind) : server_(std::move(bind)) {}
  HttpServer server_;
};

}  // namespace kpx
