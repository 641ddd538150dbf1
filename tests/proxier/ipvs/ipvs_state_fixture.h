#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "proxier/core/desired_state.h"

namespace kpx::ipvs_testing {

// Parsing helpers that abort the test binary on typos in a test's IP plan.
IpAddress Addr(const std::string& text);
Cidr Prefix(const std::string& text);

// A ready endpoint; `local` marks it as running on the test node.
EndpointInfo Backend(const std::string& ip, int port, bool local = false);

// A single-stack ClusterIP service port "default/<name>" (unnamed port), mutated by `edit`.
ServicePortInfo Port(const std::string& name, Protocol protocol, const std::string& cluster_ip,
                     int port, const std::function<void(ServicePortInfo&)>& edit = nullptr);

// Accumulates service ports and produces DesiredState snapshots with `changed` filled in.
// Endpoint selection runs through proxier/core's SelectEndpoints, as in production.
class IpvsStateBuilder {
 public:
  explicit IpvsStateBuilder(std::string node = "node-1");
  IpvsStateBuilder& Set(const ServicePortInfo& info, const std::vector<EndpointInfo>& endpoints);
  IpvsStateBuilder& Drop(const std::string& name, Protocol protocol = Protocol::kTCP);
  IpvsStateBuilder& NodeAddresses(const std::vector<std::string>& addresses);
  DesiredState Snapshot();

 private:
  DesiredState state_;
  std::set<ServicePortName> changed_;
};

}  // namespace kpx::ipvs_testing
