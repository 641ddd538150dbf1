#pragma once

// Builders for API objects in core tests: a default object plus mutator lambdas.

#include <functional>
#include <string>

#include "k8s-watch/objects/endpoint_slice.h"
#include "k8s-watch/objects/node.h"
#include "k8s-watch/objects/service.h"

namespace kpx::testing {

inline IpAddress Ip(const std::string& s) { return *IpAddress::Parse(s); }

inline Service MakeService(const std::string& ns, const std::string& name,
                           const std::function<void(Service&)>& mutate = {}) {
  Service s;
  s.meta.namespace_ = ns;
  s.meta.name = name;
  s.cluster_ips = {Ip("10.96.0.10")};
  s.ports = {{"http", Protocol::kTCP, 80, 0}};
  if (mutate) mutate(s);
  return s;
}

inline Endpoint MakeEndpoint(const std::string& ip, const std::string& node,
                             const std::function<void(Endpoint&)>& mutate = {}) {
  Endpoint e;
  e.addresses = {Ip(ip)};
  e.node_name = node;
  if (mutate) mutate(e);
  return e;
}

inline EndpointSlice MakeSlice(const std::string& ns, const std::string& service,
                               const std::string& name, std::vector<Endpoint> endpoints,
                               const std::function<void(EndpointSlice&)>& mutate = {}) {
  EndpointSlice s;
  s.meta.namespace_ = ns;
  s.meta.name = name;
  s.service_name = service;
  s.endpoints = std::move(endpoints);
  s.ports = {{"http", Protocol::kTCP, 8080}};
  if (mutate) mutate(s);
  return s;
}

}  // namespace kpx::testing
