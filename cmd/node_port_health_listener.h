#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "proxier/core/desired_state.h"
#include "proxier/core/node_port_addresses.h"
#include "proxier/health/service_health.h"
#include "proxier/server/http_server.h"

namespace kpx {

// A health-check node port bound as kube-proxy binds it: on every address while
// --nodeport-addresses restricts nothing, else on each node address it selects (so a load
// balancer probe on an excluded address finds nothing listening).
class NodePortHealthListener final : public HealthCheckListener {
 public:
  // One HTTP listener per address in `bind_ips`; fails if any cannot be opened.
  static Result<std::unique_ptr<HealthCheckListener>> Open(
      const std::vector<std::string>& bind_ips, int32_t port, HealthCheckResponder responder,
      std::function<bool()> proxier_healthy, std::shared_ptr<HttpServer::Stats> stats);

  // Pure: where to listen. `wildcard` (the bind address, 0.0.0.0 by default) when no family is
  // restricted; else the selected addresses of restricted families and every non-loopback host
  // address of the others.
  static std::vector<std::string> BindAddresses(const NodePortAddresses& npa,
                                                const std::vector<IpAddress>& host_addresses,
                                                const NodeState& node, const std::string& wildcard);

 private:
  std::vector<std::unique_ptr<HealthCheckListener>> parts_;
};

}  // namespace kpx
