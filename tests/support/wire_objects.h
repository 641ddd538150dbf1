#pragma once

#include <string>

#include "k8s-watch/objects/endpoint_slice.h"
#include "k8s-watch/objects/node.h"
#include "k8s-watch/objects/service.h"
#include "tests/k8s-watch/client/fake_api_server.h"

// API objects on the wire, as a v1.30 API server serves them (managedFields, uids, timestamps and
// status included), to store in FakeApiServer. The objects are described with the same builders
// as everywhere else (tests/support/api_objects.h: MakeService, MakeSlice, MakeEndpoint,
// MakeNode); what no struct can hold (an address that does not parse) is made by editing the
// rendered text (WithText). IP plan: ClusterIPs 10.96.0.0/12, pods 10.244.0.0/16, nodes
// 192.168.1.0/24.
namespace kpx::testing {

// A Service: its meta (namespace, name, labels), cluster IPs ("None" when headless), ports (each
// with targetPort 8080) and a selector app=<name>.
FakeApiServer::Object ServiceObject(const Service& service);
// An EndpointSlice: its meta, the kubernetes.io/service-name and managed-by labels, address type,
// endpoints (first address, conditions, node name, zone, a Pod targetRef) and ports.
FakeApiServer::Object SliceObject(const EndpointSlice& slice);
// A Node: its meta, hostname/os labels, pod CIDRs and InternalIP/ExternalIP/Hostname addresses.
FakeApiServer::Object NodeObject(const Node& node);

// `object` with every `from` in its rendered JSON replaced by `to`: invalid input for a decoder,
// starting from a valid object.
FakeApiServer::Object WithText(FakeApiServer::Object object, std::string from, std::string to);

// `object` with a kubectl last-applied-configuration annotation of `bytes` filler bytes: the bulk
// of real clusters' lists, which kpx reads past and drops.
FakeApiServer::Object WithLastApplied(FakeApiServer::Object object, size_t bytes);

// A stable, UUID-shaped uid derived from `seed` (e.g. "ns/name").
std::string StableUid(const std::string& seed);

// The i-th of many distinct, valid ClusterIPs / pod IPs (i < 1,000,000).
std::string ClusterIp(int i);
std::string PodIp(int i);

}  // namespace kpx::testing
