#include "k8s-watch/decode/service_decoder.h"

#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "k8s-watch/decode/dns_names.h"
#include "k8s-watch/decode/json_fields.h"
#include "k8s-watch/decode/object_meta_decoder.h"
#include "k8s-watch/decode/skipped_entries.h"

namespace kpx {

namespace {

// kube-proxy reads this annotation when spec.loadBalancerSourceRanges is empty (the field came
// later and old manifests still use the annotation).
constexpr char kSourceRangesAnnotation[] = "service.beta.kubernetes.io/load-balancer-source-ranges";
constexpr int64_t kDefaultAffinityTimeout = 10800;
constexpr int64_t kMaxAffinityTimeout = 86400;

// Go's strings.TrimSpace for ASCII, which kube-proxy applies to source ranges: a YAML "|" block
// leaves a trailing newline ("10.0.0.0/8\n").
std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  while (!s.empty() && kSpace.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && kSpace.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

// Legacy forms with leading zeros are accepted as kube-proxy's ParseIPSloppy does.
Status ParseIp(std::string_view path, std::string_view text, IpAddress* out) {
  auto ip = IpAddress::ParseSloppy(text);
  if (!ip) return json::FieldError(path, json::Quote(text) + " is not a valid IP address");
  *out = *ip;
  return Status::Ok();
}

// Reads an array of strings; `path` names the array.
Status ReadStrings(const rapidjson::Value& object, const char* key, std::string_view parent,
                   std::vector<std::string>* out) {
  const rapidjson::Value* arr = nullptr;
  const std::string path = json::Child(parent, key);
  if (Status s = json::ReadArray(object, key, parent, &arr); !s.ok()) return s;
  if (arr == nullptr) return Status::Ok();
  for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
    const rapidjson::Value& v = (*arr)[i];
    if (!v.IsString()) {
      return json::FieldError(json::Index(path, i),
                              std::string("must be a string, got ") + json::TypeName(v));
    }
    out->emplace_back(v.GetString(), v.GetStringLength());
  }
  return Status::Ok();
}

// A list of IPs in which, as in kube-proxy (MapIPsByIPFamily), an entry that does not parse is
// skipped with a log line instead of failing the whole object. `owner` names the object.
Status ReadIps(const rapidjson::Value& object, const char* key, std::string_view parent,
               const std::string& owner, std::vector<IpAddress>* out) {
  std::vector<std::string> texts;
  if (Status s = ReadStrings(object, key, parent, &texts); !s.ok()) return s;
  const std::string path = json::Child(parent, key);
  for (size_t i = 0; i < texts.size(); ++i) {
    IpAddress ip;
    if (Status s = ParseIp(json::Index(path, i), texts[i], &ip); !s.ok()) {
      LOG(WARNING) << "service " << owner << ": skipping " << s.message();
      SkippedEntries::Add();
      continue;
    }
    out->push_back(ip);
  }
  return Status::Ok();
}

Status DecodeType(const rapidjson::Value& spec, ServiceType* out) {
  std::string type;
  if (Status s = json::ReadString(spec, "type", "spec", &type); !s.ok()) return s;
  if (type.empty() || type == "ClusterIP") {
    *out = ServiceType::kClusterIP;
  } else if (type == "NodePort") {
    *out = ServiceType::kNodePort;
  } else if (type == "LoadBalancer") {
    *out = ServiceType::kLoadBalancer;
  } else if (type == "ExternalName") {
    *out = ServiceType::kExternalName;
  } else {
    return json::FieldError("spec.type", json::Quote(type) + " not supported");
  }
  return Status::Ok();
}

Status DecodeClusterIps(const rapidjson::Value& spec, Service* svc) {
  // spec.clusterIPs supersedes spec.clusterIP; objects written before dual-stack carry only the
  // latter. ExternalName services have no cluster IP by definition; whatever is there is ignored.
  if (svc->type == ServiceType::kExternalName) return Status::Ok();
  std::vector<std::string> texts;
  std::string path = "spec.clusterIPs";
  if (Status s = ReadStrings(spec, "clusterIPs", "spec", &texts); !s.ok()) return s;
  if (texts.empty()) {
    std::string single;
    if (Status s = json::ReadString(spec, "clusterIP", "spec", &single); !s.ok()) return s;
    if (!single.empty()) texts.push_back(std::move(single));
    path = "spec.clusterIP";
  }
  if (!texts.empty() && texts.front() == "None") {
    svc->headless = true;
    return Status::Ok();
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string item_path = path == "spec.clusterIP" ? path : json::Index(path, i);
    IpAddress ip;
    if (Status s = ParseIp(item_path, texts[i], &ip); !s.ok()) return s;
    for (const IpAddress& prev : svc->cluster_ips) {
      if (prev.family() == ip.family()) {
        return json::FieldError(item_path, "second " + std::string(IpFamilyName(ip.family())) +
                                               " cluster IP " + json::Quote(texts[i]));
      }
    }
    svc->cluster_ips.push_back(ip);
  }
  return Status::Ok();
}

Status CheckPortRange(std::string_view path, int64_t value, int64_t min) {
  if (value < min || value > 65535) {
    return json::FieldError(path, std::to_string(value) + " out of range");
  }
  return Status::Ok();
}

Status DecodePort(const rapidjson::Value& p, const std::string& path, ServicePortSpec* out) {
  if (!p.IsObject()) {
    return json::FieldError(path, std::string("must be an object, got ") + json::TypeName(p));
  }
  if (Status s = json::ReadPortNameAndProtocol(p, path, &out->name, &out->protocol); !s.ok()) {
    return s;
  }
  std::optional<int64_t> port;
  if (Status s = json::ReadInt(p, "port", path, &port); !s.ok()) return s;
  if (!port) return json::FieldError(json::Child(path, "port"), "required");
  if (Status s = CheckPortRange(json::Child(path, "port"), *port, 1); !s.ok()) return s;
  out->port = static_cast<int32_t>(*port);
  std::optional<int64_t> node_port;
  if (Status s = json::ReadInt(p, "nodePort", path, &node_port); !s.ok()) return s;
  if (node_port) {
    if (Status s = CheckPortRange(json::Child(path, "nodePort"), *node_port, 0); !s.ok()) return s;
    out->node_port = static_cast<int32_t>(*node_port);
  }
  return Status::Ok();
}

Status DecodePorts(const rapidjson::Value& spec, Service* svc) {
  const rapidjson::Value* ports = nullptr;
  if (Status s = json::ReadArray(spec, "ports", "spec", &ports); !s.ok()) return s;
  if (ports == nullptr) return Status::Ok();
  // The API requires names once there is more than one port; kpx only insists on what it needs:
  // ServicePortName (namespace, name, port name) and the (port, protocol) match must be unique.
  std::map<std::pair<int32_t, Protocol>, size_t> seen_ports;
  std::map<std::string, size_t> seen_names;
  for (rapidjson::SizeType i = 0; i < ports->Size(); ++i) {
    const std::string path = json::Index("spec.ports", i);
    ServicePortSpec port;
    if (Status s = DecodePort((*ports)[i], path, &port); !s.ok()) return s;
    auto [pit, new_port] = seen_ports.emplace(std::make_pair(port.port, port.protocol), i);
    if (!new_port) {
      return json::FieldError(path, "duplicate port " + std::to_string(port.port) + "/" +
                                        std::string(ProtocolName(port.protocol)) + " (as in " +
                                        json::Index("spec.ports", pit->second) + ")");
    }
    auto [nit, new_name] = seen_names.emplace(port.name, i);
    if (!new_name) {
      return json::FieldError(json::Child(path, "name"),
                              "duplicate name " + json::Quote(port.name) + " (as in " +
                                  json::Index("spec.ports", nit->second) + ")");
    }
    svc->ports.push_back(std::move(port));
  }
  return Status::Ok();
}

Status DecodeIngress(const rapidjson::Value& object, Service* svc) {
  const rapidjson::Value* status = nullptr;
  const rapidjson::Value* lb = nullptr;
  const rapidjson::Value* ingress = nullptr;
  if (Status s = json::ReadObject(object, "status", "", &status); !s.ok() || status == nullptr) {
    return s;
  }
  if (Status s = json::ReadObject(*status, "loadBalancer", "status", &lb);
      !s.ok() || lb == nullptr) {
    return s;
  }
  if (Status s = json::ReadArray(*lb, "ingress", "status.loadBalancer", &ingress);
      !s.ok() || ingress == nullptr) {
    return s;
  }
  for (rapidjson::SizeType i = 0; i < ingress->Size(); ++i) {
    const std::string path = json::Index("status.loadBalancer.ingress", i);
    const rapidjson::Value& entry = (*ingress)[i];
    if (!entry.IsObject()) {
      return json::FieldError(path, std::string("must be an object, got ") + json::TypeName(entry));
    }
    std::string ip_text;
    std::string ip_mode;
    if (Status s = json::ReadString(entry, "ip", path, &ip_text); !s.ok()) return s;
    if (Status s = json::ReadString(entry, "ipMode", path, &ip_mode); !s.ok()) return s;
    if (ip_text.empty()) continue;  // hostname-only ingress: nothing a node can program
    IpAddress ip;
    if (Status s = ParseIp(json::Child(path, "ip"), ip_text, &ip); !s.ok()) {
      // kube-proxy ignores an ingress IP it cannot parse and keeps the others.
      LOG(WARNING) << "service " << svc->meta.Key() << ": skipping " << s.message();
      SkippedEntries::Add();
      continue;
    }
    // Like kube-proxy, only VIP (or unset) modes are short-circuited on the node; Proxy means the
    // load balancer must see the traffic, and a mode added later is safest treated the same way.
    if (!ip_mode.empty() && ip_mode != "VIP") continue;
    svc->load_balancer_ingress_ips.push_back(ip);
  }
  return Status::Ok();
}

// kube-proxy's source-range handling: each entry is trimmed and parsed on its own; an entry
// that does not parse is skipped with a log line (kube-proxy: "Could not parse CIDR"), which
// only narrows who may connect. If entries were given and none parses, the Service is rejected,
// and a rejected Service is withdrawn (fail closed): kube-proxy would leave it unrestricted.
Status DecodeSourceRanges(const rapidjson::Value& spec, Service* svc) {
  std::vector<std::string> texts;
  if (Status s = ReadStrings(spec, "loadBalancerSourceRanges", "spec", &texts); !s.ok()) return s;
  std::string path = "spec.loadBalancerSourceRanges";
  if (texts.empty()) {
    auto it = svc->meta.annotations.find(kSourceRangesAnnotation);
    if (it == svc->meta.annotations.end()) return Status::Ok();
    path = std::string("metadata.annotations[") + kSourceRangesAnnotation + "]";
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (!Trim(item).empty()) texts.emplace_back(item);
    }
  }
  size_t bad = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (auto cidr = Cidr::ParseSloppy(Trim(texts[i]))) {
      svc->load_balancer_source_ranges.push_back(*cidr);
      continue;
    }
    ++bad;
    SkippedEntries::Add();
    LOG(WARNING) << "service " << svc->meta.Key() << ": " << path << ": skipping "
                 << json::Quote(texts[i]) << ": not a valid CIDR";
  }
  if (bad > 0 && bad == texts.size()) {
    return json::FieldError(path, "no valid CIDR among " + std::to_string(bad) +
                                      " source range(s); refusing to leave the service open");
  }
  return Status::Ok();
}

// Source ranges in one family on a Service with load-balancer IPs in both: kube-proxy leaves the
// other family unrestricted; kpx restricts it to nothing (the ranges say who may connect, and
// nobody of the other family is on the list). Said once per decode, so per Service change.
void NoteOneFamilySourceRanges(const Service& svc) {
  if (svc.load_balancer_source_ranges.empty()) return;
  for (IpFamily f : kIpFamilies) {
    const bool has_range =
        std::any_of(svc.load_balancer_source_ranges.begin(), svc.load_balancer_source_ranges.end(),
                    [f](const Cidr& c) { return c.family() == f; });
    const bool has_vip =
        std::any_of(svc.load_balancer_ingress_ips.begin(), svc.load_balancer_ingress_ips.end(),
                    [f](const IpAddress& ip) { return ip.family() == f; });
    if (has_vip && !has_range) {
      LOG(WARNING) << "service " << svc.meta.Key() << ": loadBalancerSourceRanges has no "
                   << IpFamilyName(f) << " range: " << IpFamilyName(f)
                   << " load-balancer traffic is dropped (kube-proxy would leave it open)";
    }
  }
}

Status DecodeAffinity(const rapidjson::Value& spec, Service* svc) {
  std::string affinity;
  if (Status s = json::ReadString(spec, "sessionAffinity", "spec", &affinity); !s.ok()) return s;
  if (affinity.empty() || affinity == "None") return Status::Ok();
  if (affinity != "ClientIP") {
    return json::FieldError("spec.sessionAffinity", json::Quote(affinity) + " not supported");
  }
  svc->session_affinity_client_ip = true;
  svc->session_affinity_timeout_seconds = static_cast<int32_t>(kDefaultAffinityTimeout);
  const rapidjson::Value* config = nullptr;
  const rapidjson::Value* client_ip = nullptr;
  if (Status s = json::ReadObject(spec, "sessionAffinityConfig", "spec", &config);
      !s.ok() || config == nullptr) {
    return s;
  }
  if (Status s = json::ReadObject(*config, "clientIP", "spec.sessionAffinityConfig", &client_ip);
      !s.ok() || client_ip == nullptr) {
    return s;
  }
  std::optional<int64_t> timeout;
  const char* path = "spec.sessionAffinityConfig.clientIP";
  if (Status s = json::ReadInt(*client_ip, "timeoutSeconds", path, &timeout); !s.ok()) return s;
  if (!timeout) return Status::Ok();
  if (*timeout < 1 || *timeout > kMaxAffinityTimeout) {
    return json::FieldError(json::Child(path, "timeoutSeconds"),
                            std::to_string(*timeout) + " out of range");
  }
  svc->session_affinity_timeout_seconds = static_cast<int32_t>(*timeout);
  return Status::Ok();
}

Status DecodePolicy(const rapidjson::Value& spec, const char* key, TrafficPolicy* out) {
  std::string policy;
  if (Status s = json::ReadString(spec, key, "spec", &policy); !s.ok()) return s;
  if (policy.empty() || policy == "Cluster") {
    *out = TrafficPolicy::kCluster;
  } else if (policy == "Local") {
    *out = TrafficPolicy::kLocal;
  } else {
    return json::FieldError(json::Child("spec", key), json::Quote(policy) + " not supported");
  }
  return Status::Ok();
}

Status DecodeSpec(const rapidjson::Value& object, Service* svc) {
  const rapidjson::Value* spec = nullptr;
  if (Status s = json::ReadObject(object, "spec", "", &spec); !s.ok()) return s;
  // A Service always has a spec on the wire; an empty one stands for all defaults.
  static const rapidjson::Value kEmptyObject(rapidjson::kObjectType);
  if (spec == nullptr) spec = &kEmptyObject;

  if (Status s = DecodeType(*spec, &svc->type); !s.ok()) return s;
  if (Status s = DecodeClusterIps(*spec, svc); !s.ok()) return s;
  if (Status s = DecodePorts(*spec, svc); !s.ok()) return s;
  if (Status s = ReadIps(*spec, "externalIPs", "spec", svc->meta.Key(), &svc->external_ips);
      !s.ok()) {
    return s;
  }
  if (Status s = DecodeSourceRanges(*spec, svc); !s.ok()) return s;
  if (Status s = DecodeAffinity(*spec, svc); !s.ok()) return s;
  if (Status s = DecodePolicy(*spec, "externalTrafficPolicy", &svc->external_traffic_policy);
      !s.ok()) {
    return s;
  }
  if (Status s = DecodePolicy(*spec, "internalTrafficPolicy", &svc->internal_traffic_policy);
      !s.ok()) {
    return s;
  }
  // kube-proxy (ExternalPolicyLocal) honours Local only where traffic enters from outside through
  // a node port or load balancer; for other types it is as if Cluster was set.
  const bool external_entry =
      svc->type == ServiceType::kNodePort || svc->type == ServiceType::kLoadBalancer;
  if (!external_entry) svc->external_traffic_policy = TrafficPolicy::kCluster;

  std::optional<int64_t> hc_port;
  if (Status s = json::ReadInt(*spec, "healthCheckNodePort", "spec", &hc_port); !s.ok()) return s;
  if (hc_port) {
    if (Status s = CheckPortRange("spec.healthCheckNodePort", *hc_port, 0); !s.ok()) return s;
    // As kube-proxy's NeedsHealthCheck: only a Local LoadBalancer service gets a health check.
    if (svc->type == ServiceType::kLoadBalancer &&
        svc->external_traffic_policy == TrafficPolicy::kLocal) {
      svc->health_check_node_port = static_cast<int32_t>(*hc_port);
    }
  }
  return json::ReadString(*spec, "trafficDistribution", "spec", &svc->traffic_distribution);
}

Status DecodeInto(const rapidjson::Value& object, Service* svc) {
  if (!object.IsObject()) {
    return Status::Error(std::string("must be a JSON object, got ") + json::TypeName(object));
  }
  if (Status s = ObjectMetaDecoder::CheckTypeMeta(object, "Service", "v1"); !s.ok()) return s;
  if (Status s = ObjectMetaDecoder::Decode(object, ObjectMetaDecoder::NameRule::kDns1123Label,
                                           /*namespaced=*/true, &svc->meta);
      !s.ok()) {
    return s;
  }
  if (Status s = DecodeSpec(object, svc); !s.ok()) return s;
  if (Status s = DecodeIngress(object, svc); !s.ok()) return s;
  NoteOneFamilySourceRanges(*svc);
  return Status::Ok();
}

}  // namespace

Result<Service> ServiceDecoder::Decode(const rapidjson::Value& object) {
  Service svc;
  if (Status s = DecodeInto(object, &svc); !s.ok()) {
    return Status::Error(ObjectMetaDecoder::Describe("service", svc.meta) + ": " + s.message());
  }
  return svc;
}

}  // namespace kpx
