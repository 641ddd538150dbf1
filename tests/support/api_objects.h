#pragma once

#include <functional>
#include <string>
#include <vector>

#include "k8s-watch/objects/endpoint_slice.h"
#include "k8s-watch/objects/node.h"
#include "k8s-watch/objects/service.h"
#include "tests/support/addresses.h"

// Builders for decoded API objects (the structs sources hand to handlers): a default object plus
// a mutator lambda for the fields a case is about. What a server sends on the wire, including
// invalid input no struct can hold, is built by wire_objects.h.
namespace kpx::testing {

// ClusterIP service ns/name on 10.96.0.10 with one port "http" TCP 80.
Service MakeService(const std::string& ns, const std::string& name,
                    const std::function<void(Service&)>& mutate = {});

// A ready, serving endpoint at `ip` on `node`.
Endpoint MakeEndpoint(const std::string& ip, const std::string& node,
                      const std::function<void(Endpoint&)>& mutate = {});

// IPv4 slice ns/name of `service` with one port "http" TCP 8080.
EndpointSlice MakeSlice(const std::string& ns, const std::string& service, const std::string& name,
                        std::vector<Endpoint> endpoints,
                        const std::function<void(EndpointSlice&)>& mutate = {});

// Node `name` with no addresses, zone or pod CIDRs.
Node MakeNode(const std::string& name, const std::function<void(Node&)>& mutate = {});

}  // namespace kpx::testing
