#include "tests/support/wire_objects.h"

#include <cstdio>
#include <functional>
#include <utility>

namespace kpx::testing {

using Labels = std::map<std::string, std::string>;

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

FakeApiServer::Object WithLastApplied(FakeApiServer::Object object, size_t bytes) {
  return WithText(std::move(object), R"("creationTimestamp":)",
                  R"("annotations":{"kubectl.kubernetes.io/last-applied-configuration":")" +
                      std::string(bytes, 'x') + R"("},"creationTimestamp":)");
}

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

namespace {

std::string JoinIps(const std::vector<IpAddress>& ips) {
  std::string out;
  for (const IpAddress& ip : ips) out += (out.empty() ? "\"" : ",\"") + ip.ToString() + "\"";
  return out;
}

}  // namespace

FakeApiServer::Object ServiceObject(const Service& service) {
  FakeApiServer::Object o;
  o.namespace_ = service.meta.namespace_;
  o.name = service.meta.name;
  o.labels = service.meta.labels;
  o.render = [s = service](uint64_t rv) {
    const std::string first_port = s.ports.empty() ? "0" : std::to_string(s.ports[0].port);
    const std::string first_protocol =
        s.ports.empty() ? "TCP" : std::string(ProtocolName(s.ports[0].protocol));
    std::string ports;
    for (const ServicePortSpec& p : s.ports) {
      if (!ports.empty()) ports += ",";
      ports += R"({"name":)" + Quote(p.name) + R"(,"protocol":")" +
               std::string(ProtocolName(p.protocol)) + R"(","port":)" + std::to_string(p.port) +
               R"(,"targetPort":8080)" +
               (p.node_port != 0 ? R"(,"nodePort":)" + std::to_string(p.node_port) : "") + "}";
    }
    std::string cluster_ip = "\"None\"";
    std::string cluster_ips = "\"None\"";
    std::string families;
    if (!s.headless) {
      cluster_ip = s.cluster_ips.empty() ? "\"\"" : "\"" + s.cluster_ips[0].ToString() + "\"";
      cluster_ips = JoinIps(s.cluster_ips);
    }
    for (const IpAddress& ip : s.cluster_ips) {
      families += std::string(families.empty() ? "\"" : ",\"") +
                  std::string(IpFamilyName(ip.family())) + "\"";
    }
    if (families.empty()) families = R"("IPv4")";
    return "{" +
           Meta(
               s.meta.namespace_, s.meta.name, rv, s.meta.labels,
               R"(,"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"v1\",\"kind\":\"Service\"}\n"},)"
               R"("managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1","time":"2024-05-02T09:14:03Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:ports":{".":{},"k:{\"port\":)" +
                   first_port + R"(,\"protocol\":\")" + first_protocol + R"(\"}":{}}}}}])") +
           R"(,"spec":{"ports":[)" + ports + R"(],"selector":{"app":)" + Quote(s.meta.name) +
           R"(},"clusterIP":)" + cluster_ip + R"(,"clusterIPs":[)" + cluster_ips +
           R"(],"type":"ClusterIP","sessionAffinity":"None","ipFamilies":[)" + families +
           R"(],"ipFamilyPolicy":")" +
           (s.cluster_ips.size() > 1 ? "PreferDualStack" : "SingleStack") +
           R"(","internalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}})";
  };
  return o;
}

FakeApiServer::Object SliceObject(const EndpointSlice& slice) {
  FakeApiServer::Object o;
  o.namespace_ = slice.meta.namespace_;
  o.name = slice.meta.name;
  o.labels = slice.meta.labels;
  o.labels["kubernetes.io/service-name"] = slice.service_name;
  o.labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io";
  const Labels labels = o.labels;
  o.render = [s = slice, labels](uint64_t rv) {
    std::string endpoints = "[";
    for (size_t i = 0; i < s.endpoints.size(); ++i) {
      const Endpoint& e = s.endpoints[i];
      if (i > 0) endpoints += ",";
      endpoints += R"({"addresses":[)" + JoinIps(e.addresses) + R"(],"conditions":{"ready":)" +
                   (e.ready ? "true" : "false") + R"(,"serving":)" +
                   (e.serving ? "true" : "false") + R"(,"terminating":)" +
                   (e.terminating ? "true" : "false") +
                   R"(},"targetRef":{"kind":"Pod","namespace":)" + Quote(s.meta.namespace_) +
                   R"(,"name":)" + Quote(s.service_name + "-pod-" + std::to_string(i)) +
                   R"(,"uid":")" + StableUid(s.meta.name + std::to_string(i)) + "\"}";
      if (!e.node_name.empty()) endpoints += R"(,"nodeName":)" + Quote(e.node_name);
      if (!e.zone.empty()) endpoints += R"(,"zone":)" + Quote(e.zone);
      endpoints += "}";
    }
    endpoints += "]";
    std::string ports;
    for (const EndpointSlicePort& p : s.ports) {
      if (!ports.empty()) ports += ",";
      ports += R"({"name":)" + Quote(p.name) + R"(,"protocol":")" +
               std::string(ProtocolName(p.protocol)) + R"(","port":)" + std::to_string(p.port) +
               "}";
    }
    return "{" +
           Meta(s.meta.namespace_, s.meta.name, rv, labels,
                R"(,"generateName":)" + Quote(s.service_name + "-") +
                    R"(,"ownerReferences":[{"apiVersion":"v1","kind":"Service","name":)" +
                    Quote(s.service_name) + R"(,"uid":")" + StableUid(s.service_name) +
                    R"(","controller":true,"blockOwnerDeletion":true}])") +
           R"(,"addressType":")" + std::string(IpFamilyName(s.address_type)) + R"(","endpoints":)" +
           endpoints + R"(,"ports":[)" + ports + "]}";
  };
  return o;
}

FakeApiServer::Object NodeObject(const Node& node) {
  FakeApiServer::Object o;
  o.name = node.meta.name;
  o.labels = node.meta.labels;
  o.labels.emplace("kubernetes.io/hostname", node.meta.name);
  o.labels.emplace("kubernetes.io/os", "linux");
  const Labels labels = o.labels;
  o.render = [n = node, labels](uint64_t rv) {
    std::string cidrs;
    for (const Cidr& c : n.pod_cidrs) {
      cidrs += (cidrs.empty() ? "\"" : ",\"") + c.ToString() + "\"";
    }
    std::string addresses;
    for (const IpAddress& ip : n.internal_ips) {
      addresses += R"({"type":"InternalIP","address":")" + ip.ToString() + "\"},";
    }
    for (const IpAddress& ip : n.external_ips) {
      addresses += R"({"type":"ExternalIP","address":")" + ip.ToString() + "\"},";
    }
    return "{" +
           Meta("", n.meta.name, rv, labels,
                R"(,"annotations":{"node.alpha.kubernetes.io/ttl":"0"})") +
           R"(,"spec":{)" +
           (n.pod_cidrs.empty() ? std::string()
                                : R"("podCIDR":)" + cidrs.substr(0, cidrs.find(',')) +
                                      R"(,"podCIDRs":[)" + cidrs + "],") +
           R"("providerID":"kind://docker/kind/)" + n.meta.name +
           R"("},"status":{"capacity":{"cpu":"8","memory":"32792720Ki","pods":"110"},)"
           R"("conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2024-05-03T12:00:00Z","lastTransitionTime":"2024-04-30T08:01:00Z","reason":"KubeletReady","message":"kubelet is posting ready status"}],)"
           R"("addresses":[)" +
           addresses + R"({"type":"Hostname","address":)" + Quote(n.meta.name) +
           R"j(}],"nodeInfo":{"kubeletVersion":"v1.30.0","osImage":"Debian GNU/Linux 12 (bookworm)"}}})j";
  };
  return o;
}

FakeApiServer::Object WithText(FakeApiServer::Object object, std::string from, std::string to) {
  auto render = std::move(object.render);
  object.render = [render = std::move(render), from = std::move(from),
                   to = std::move(to)](uint64_t rv) {
    std::string text = render(rv);
    for (size_t pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
      text.replace(pos, from.size(), to);
    }
    return text;
  };
  return object;
}

}  // namespace kpx::testing
