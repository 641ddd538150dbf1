#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/k8s-watch/client/fake_api_server.h"

// Builders for API objects on the wire, as a v1.30 API server serves them (managedFields, uids,
// timestamps and status included), to store in FakeApiServer. Addresses are text so a case can
// send what no decoded struct can hold (tests/support/api_objects.h builds those structs). IP plan:
// ClusterIPs 10.96.0.0/12, pods 10.244.0.0/16, nodes 192.168.1.0/24.
namespace kpx::testing {

using Labels = std::map<std::string, std::string>;

struct ServiceSpec {
  std::string namespace_ = "default";
  std::string name{};
  std::string cluster_ip{};
  int port = 80;
  Labels labels{};
  bool headless = false;
};

struct SliceSpec {
  std::string namespace_ = "default";
  std::string name{};          // e.g. "web-7x2kq"
  std::string service_name{};  // label kubernetes.io/service-name
  std::vector<std::string> addresses{};
  int port = 8080;
  bool ready = true;
  Labels extra_labels{};
};

struct NodeSpec {
  std::string name{};
  std::string internal_ip{};
  std::string pod_cidr{};
  std::string zone = "zone-a";
};

FakeApiServer::Object ServiceObject(const ServiceSpec& spec);
FakeApiServer::Object SliceObject(const SliceSpec& spec);
FakeApiServer::Object NodeObject(const NodeSpec& spec);

// A stable, UUID-shaped uid derived from `seed` (e.g. "ns/name").
std::string StableUid(const std::string& seed);

// The i-th of many distinct, valid ClusterIPs / pod IPs (i < 1,000,000).
std::string ClusterIp(int i);
std::string PodIp(int i);

}  // namespace kpx::testing
