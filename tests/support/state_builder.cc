#include "tests/support/state_builder.h"

#include <sstream>

namespace kpx::testing {

EndpointInfo Ep(const std::string& ip, int port, const std::function<void(EndpointInfo&)>& mutate) {
  EndpointInfo e;
  e.ip = Ip(ip);
  e.port = port;
  e.ready = true;
  e.serving = true;
  if (mutate) mutate(e);
  return e;
}

EndpointInfo LocalEp(const std::string& ip, int port,
                     const std::function<void(EndpointInfo&)>& mutate) {
  return Ep(ip, port, [&](EndpointInfo& e) {
    e.is_local = true;
    if (mutate) mutate(e);
  });
}

ServicePortInfo Svc(const std::string& ns, const std::string& name, const std::string& port_name,
                    Protocol protocol, int port, const std::string& cluster_ips,
                    const std::function<void(ServicePortInfo&)>& mutate) {
  ServicePortInfo info;
  info.name = {ns, name, port_name, protocol};
  info.protocol = protocol;
  info.port = port;
  std::stringstream ss(cluster_ips);
  std::string one;
  while (std::getline(ss, one, ',')) {
    const IpAddress ip = Ip(one);
    info.cluster_ip[static_cast<int>(ip.family())] = ip;
  }
  if (mutate) mutate(info);
  return info;
}

StateBuilderForTest::StateBuilderForTest(std::string node_name) {
  state_.node.name = std::move(node_name);
  state_.synced = true;
}

StateBuilderForTest& StateBuilderForTest::Node(const std::function<void(NodeState&)>& mutate) {
  mutate(state_.node);
  state_.node_changed = true;
  return *this;
}

StateBuilderForTest& StateBuilderForTest::Add(const ServicePortInfo& info,
                                              const std::vector<EndpointInfo>& endpoints) {
  ServicePortState port;
  port.info = info;
  const NodeTopology topo{state_.node.name, state_.node.zone};
  for (IpFamily f : kIpFamilies) {
    std::vector<EndpointInfo> list;
    for (const auto& e : endpoints) {
      if (e.ip.family() != f) continue;
      list.push_back(e);
    }
    port.endpoints[static_cast<int>(f)] =
        SelectEndpoints(info, EndpointList(std::move(list)), topo);
  }
  state_.services.insert_or_assign(info.name, ServicePortStatePtr::Make(std::move(port)));
  changed_.insert(info.name);
  return *this;
}

StateBuilderForTest& StateBuilderForTest::Remove(const ServicePortName& name) {
  state_.services.erase(name);
  changed_.insert(name);
  return *this;
}

DesiredState StateBuilderForTest::Build() {
  ++state_.generation;
  state_.changed = std::move(changed_);
  changed_.clear();
  DesiredState out = state_;
  state_.node_changed = false;
  return out;
}

}  // namespace kpx::testing
