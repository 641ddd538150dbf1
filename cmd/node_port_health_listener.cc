#include "cmd/node_port_health_listener.h"

#include "cmd/health_check_listener.h"

namespace kpx {

Result<std::unique_ptr<HealthCheckListener>> NodePortHealthListener::Open(
    const std::vector<std::string>& bind_ips, int32_t port, HealthCheckResponder responder,
    std::function<bool()> proxier_healthy, std::shared_ptr<HttpServer::Stats> stats) {
  std::unique_ptr<NodePortHealthListener> l(new NodePortHealthListener());
  for (const std::string& ip : bind_ips) {
    auto part = HealthCheckHttpListener::Open(ip, port, responder, proxier_healthy, stats);
    if (!part.ok()) return part.status();
    l->parts_.push_back(std::move(part).value());
  }
  return std::unique_ptr<HealthCheckListener>(std::move(l));
}

std::vector<std::string> NodePortHealthListener::BindAddresses(
    const NodePortAddresses& npa, const std::vector<IpAddress>& host_addresses,
    const NodeState& node, const std::string& wildcard) {
  const bool all = npa.MatchesAll(IpFamily::kIPv4, node) && npa.MatchesAll(IpFamily::kIPv6, node);
  if (all) return {wildcard};
  std::vector<std::string> out;
  for (IpFamily f : kIpFamilies) {
    if (npa.MatchesAll(f, node)) {
      for (const IpAddress& ip : host_addresses) {
        const bool link_local_v6 =
            f == IpFamily::kIPv6 && ip.bytes()[0] == 0xfe && (ip.bytes()[1] & 0xc0) == 0x80;
        if (ip.family() == f && !ip.IsLoopback() && !link_local_v6) {
          out.push_back(ip.ToString());
        }
      }
      continue;
    }
    for (const IpAddress& ip : npa.Select(f, host_addresses, node, false)) {
      out.push_back(ip.ToString());
    }
  }
  return out;
}

}  // namespace kpx
