#include "tests/proxier/ipvs/ipvs_state_fixture.h"

#include <cstdio>
#include <cstdlib>

#include "proxier/core/endpoint_selection.h"

namespace kpx::ipvs_testing {

IpAddress Addr(const std::string& text) {
  auto ip = IpAddress::Parse(text);
  if (!ip) {
    std::fprintf(stderr, "test IP plan: bad address %s\n", text.c_str());
    std::abort();
  }
  return *ip;
}

Cidr Prefix(const std::string& text) {
  auto c = Cidr::Parse(text);
  if (!c) {
    std::fprintf(stderr, "test IP plan: bad prefix %s\n", text.c_str());
    std::abort();
  }
  return *c;
}

EndpointInfo Backend(const std::string& ip, int port, bool local) {
  EndpointInfo e;
  e.ip = Addr(ip);
  e.port = port;
  e.ready = e.serving = true;
  e.is_local = local;
  e.node_name = local ? "node-1" : "node-2";
  return e;
}

ServicePortInfo Port(const std::string& name, Protocol protocol, const std::string& cluster_ip,
                     int port, const std::function<void(ServicePortInfo&)>& edit) {
  ServicePortInfo info;
  info.name = ServicePortName{"default", name, "", protocol};
  info.protocol = protocol;
  info.port = port;
  const IpAddress ip = Addr(cluster_ip);
  info.cluster_ip[static_cast<int>(ip.family())] = ip;
  if (edit) edit(info);
  return info;
}

IpvsStateBuilder::IpvsStateBuilder(std::string node) {
  state_.node.name = std::move(node);
  state_.synced = true;
}

IpvsStateBuilder& IpvsStateBuilder::Set(const ServicePortInfo& info,
                                        const std::vector<EndpointInfo>& endpoints) {
  auto sp = std::make_shared<ServicePortState>();
  sp->info = info;
  for (IpFamily f : kIpFamilies) {
    EndpointList list;
    for (const EndpointInfo& e : endpoints) {
      if (e.ip.family() == f) list.push_back(std::make_shared<EndpointInfo>(e));
    }
    sp->endpoints[static_cast<int>(f)] =
        SelectEndpoints(info, std::move(list), NodeTopology{state_.node.name, ""});
  }
  state_.services[info.name] = sp;
  changed_.insert(info.name);
  return *this;
}

IpvsStateBuilder& IpvsStateBuilder::Drop(const std::string& name, Protocol protocol) {
  const ServicePortName key{"default", name, "", protocol};
  state_.services.erase(key);
  changed_.insert(key);
  return *this;
}

IpvsStateBuilder& IpvsStateBuilder::NodeAddresses(const std::vector<std::string>& addresses) {
  state_.node.addresses.clear();
  for (const auto& a : addresses) state_.node.addresses.push_back(Addr(a));
  state_.node_changed = true;
  return *this;
}

DesiredState IpvsStateBuilder::Snapshot() {
  ++state_.generation;
  state_.changed = changed_;
  changed_.clear();
  DesiredState out = state_;
  state_.node_changed = false;
  return out;
}

}  // namespace kpx::ipvs_testing
