#include "tests/support/api_objects.h"

#include <utility>

namespace kpx::testing {

Service MakeService(const std::string& ns, const std::string& name,
                    const std::function<void(Service&)>& mutate) {
  Service s;
  s.meta.namespace_ = ns;
  s.meta.name = name;
  s.cluster_ips = {Ip("10.96.0.10")};
  s.ports = {{"http", Protocol::kTCP, 80, 0}};
  if (mutate) mutate(s);
  return s;
}

Endpoint MakeEndpoint(const std::string& ip, const std::string& node,
                      const std::function<void(Endpoint&)>& mutate) {
  Endpoint e;
  e.addresses = {Ip(ip)};
  e.node_name = node;
  if (mutate) mutate(e);
  return e;
}

EndpointSlice MakeSlice(const std::string& ns, const std::string& service, const std::string& name,
                        std::vector<Endpoint> endpoints,
                        const std::function<void(EndpointSlice&)>& mutate) {
  EndpointSlice s;
  s.meta.namespace_ = ns;
  s.meta.name = name;
  s.service_name = service;
  s.endpoints = std::move(endpoints);
  s.ports = {{"http", Protocol::kTCP, 8080}};
  if (mutate) mutate(s);
  return s;
}

Node MakeNode(const std::string& name, const std::function<void(Node&)>& mutate) {
  Node n;
  n.meta.name = name;
  if (mutate) mutate(n);
  return n;
}

}  // namespace kpx::testing
