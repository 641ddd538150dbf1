#include "tests/support/wire_objects.h"

#include <cstdio>
#include <functional>

namespace kpx::testing {

namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string LabelsJson(const Labels& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ",";
    out += Quote(k) + ":" + Quote(v);
  }
  return out + "}";
}

std::string Meta(const std::string& ns, const std::string& name, uint64_t rv, const Labels& labels,
                 const std::string& extra) {
  std::string out = R"("metadata":{"name":)" + Quote(name);
  if (!ns.empty()) out += R"(,"namespace":)" + Quote(ns);
  out += R"(,"uid":")" + StableUid(ns + "/" + name) + R"(","resourceVersion":")" +
         std::to_string(rv) + R"(","creationTimestamp":"2024-05-02T09:14:03Z","labels":)" +
         LabelsJson(labels) + extra;
  return out + "}";
}

}  // namespace

std::string StableUid(const std::string& seed) {
  const size_t h = std::hash<std::string>{}(seed);
  char buf[40];
  snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(h >> 32),
           static_cast<unsigned>(h >> 16) & 0xffff, static_cast<unsigned>(h >> 4) & 0xfff,
           static_cast<unsigned>(h) & 0xfff,
           static_cast<unsigned long long>(h) & 0xffffffffffffULL);
  return buf;
}

std::string ClusterIp(int i) {
  return "10.96." + std::to_string(i / 250 % 256) + "." + std::to_string(i % 250 + 1);
}

std::string PodIp(int i) {
  return "10.244." + std::to_string(i / 250 % 256) + "." + std::to_string(i % 250 + 1);
}

FakeApiServer::Object ServiceObject(const ServiceSpec& spec) {
  FakeApiServer::Object o;
  o.namespace_ = spec.namespace_;
  o.name = spec.name;
  o.labels = spec.labels;
  o.render = [spec](uint64_t rv) {
    const std::string ip = spec.headless ? "None" : spec.cluster_ip;
    const std::string port = std::to_string(spec.port);
    return "{" +
           Meta(
               spec.namespace_, spec.name, rv, spec.labels,
               R"(,"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Service\"}\n"},)"
               R"("managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1","time":"2024-05-02T09:14:03Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:ports":{".":{},"k:{\"port\":)" +
                   port + R"(,\"protocol\":\"TCP\"}":{}}}}}])") +
           R"(,"spec":{"ports":[{"name":"http","protocol":"TCP","port":)" + port +
           R"(,"targetPort":8080}],"selector":{"app":)" + Quote(spec.name) + R"(},"clusterIP":")" +
           ip + R"(","clusterIPs":[")" + ip +
           R"("],"type":"ClusterIP","sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}})";
  };
  return o;
}

FakeApiServer::Object SliceObject(const SliceSpec& spec) {
  FakeApiServer::Object o;
  o.namespace_ = spec.namespace_;
  o.name = spec.name;
  o.labels = spec.extra_labels;
  o.labels["kubernetes.io/service-name"] = spec.service_name;
  o.labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io";
  const Labels labels = o.labels;
  o.render = [spec, labels](uint64_t rv) {
    std::string endpoints = "[";
    for (size_t i = 0; i < spec.addresses.size(); ++i) {
      if (i > 0) endpoints += ",";
      const std::string ready = spec.ready ? "true" : "false";
      endpoints += R"({"addresses":[")" + spec.addresses[i] + R"("],"conditions":{"ready":)" +
                   ready + R"(,"serving":)" + ready +
                   R"(,"terminating":false},"targetRef":{"kind":"Pod","namespace":)" +
                   Quote(spec.namespace_) + R"(,"name":)" +
                   Quote(spec.service_name + "-pod-" + std::to_string(i)) + R"(,"uid":")" +
                   StableUid(spec.name + std::to_string(i)) +
                   R"("},"nodeName":"kpx-node","zone":"zone-a"})";
    }
    endpoints += "]";
    return "{" +
           Meta(spec.namespace_, spec.name, rv, labels,
                R"(,"generateName":)" + Quote(spec.service_name + "-") +
                    R"(,"ownerReferences":[{"apiVersion":"v1","kind":"Service","name":)" +
                    Quote(spec.service_name) + R"(,"uid":")" + StableUid(spec.service_name) +
                    R"(","controller":true,"blockOwnerDeletion":true}])") +
           R"(,"addressType":"IPv4","endpoints":)" + endpoints +
           R"(,"ports":[{"name":"http","protocol":"TCP","port":)" + std::to_string(spec.port) +
           "}]}";
  };
  return o;
}

FakeApiServer::Object NodeObject(const NodeSpec& spec) {
  FakeApiServer::Object o;
  o.name = spec.name;
  o.labels = {{"kubernetes.io/hostname", spec.name},
              {"kubernetes.io/os", "linux"},
              {"topology.kubernetes.io/zone", spec.zone}};
  const Labels labels = o.labels;
  o.render = [spec, labels](uint64_t rv) {
    return "{" +
           Meta("", spec.name, rv, labels,
                R"(,"annotations":{"node.alpha.kubernetes.io/ttl":"0"})") +
           R"(,"spec":{"podCIDR":")" + spec.pod_cidr + R"(","podCIDRs":[")" + spec.pod_cidr +
           R"("],"providerID":"kind://docker/kind/)" + spec.name +
           R"("},"status":{"capacity":{"cpu":"8","memory":"32792720Ki","pods":"110"},)"
           R"("conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2024-05-03T12:00:00Z","lastTransitionTime":"2024-04-30T08:01:00Z","reason":"KubeletReady","message":"kubelet is posting ready status"}],)"
           R"("addresses":[{"type":"InternalIP","address":")" +
           spec.internal_ip + R"("},{"type":"Hostname","address":)" + Quote(spec.name) +
           R"j(}],"nodeInfo":{"kubeletVersion":"v1.30.0","osImage":"Debian GNU/Linux 12 (bookworm)"}}})j";
  };
  return o;
}

}  // namespace kpx::testing
