#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxier/core/desired_state.h"
#include "proxier/core/endpoint_selection.h"
#include "tests/support/addresses.h"

namespace kpx::testing {

// Test builders for DesiredState, with mutator lambdas for the few fields a case cares about.

// A ready, serving endpoint on another node unless `mutate` says otherwise.
EndpointInfo Ep(const std::string& ip, int port,
                const std::function<void(EndpointInfo&)>& mutate = nullptr);
// A ready, serving endpoint on the test's own node: is_local, on the builder's default node
// "node-a" (local also under a builder with another node name).
EndpointInfo LocalEp(const std::string& ip, int port,
                     const std::function<void(EndpointInfo&)>& mutate = nullptr);

// A ClusterIP service port "ns/name:port_name" on `cluster_ip` (comma-separated for dual-stack).
ServicePortInfo Svc(const std::string& ns, const std::string& name, const std::string& port_name,
                    Protocol protocol, int port, const std::string& cluster_ips,
                    const std::function<void(ServicePortInfo&)>& mutate = nullptr);

class StateBuilderForTest {
 public:
  explicit StateBuilderForTest(std::string node_name = "node-a");
  StateBuilderForTest& Node(const std::function<void(NodeState&)>& mutate);
  // Adds or replaces a service port and its endpoints (any family mix); selection runs through
  // proxier/core's SelectEndpoints, as in production.
  StateBuilderForTest& Add(const ServicePortInfo& info, const std::vector<EndpointInfo>& endpoints);
  StateBuilderForTest& Remove(const ServicePortName& name);
  // A snapshot; `changed` lists what Add/Remove touched since the previous Build.
  DesiredState Build();

 private:
  DesiredState state_;
  std::set<ServicePortName> changed_;
};

}  // namespace kpx::testing
