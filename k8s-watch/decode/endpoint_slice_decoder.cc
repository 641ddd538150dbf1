#include "k8s-watch/decode/endpoint_slice_decoder.h"

#include <string>

#include "k8s-watch/decode/dns_names.h"
#include "k8s-watch/decode/json_fields.h"
#include "k8s-watch/decode/object_meta_decoder.h"

namespace kpx {

namespace {

constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";

Status NotAnObject(std::string_view path, const rapidjson::Value& v) {
  return json::FieldError(path, std::string("must be an object, got ") + json::TypeName(v));
}

Status DecodeAddressType(const rapidjson::Value& object, IpFamily* out) {
  std::string type;
  if (Status s = json::ReadString(object, "addressType", "", &type); !s.ok()) return s;
  if (type == "IPv4") {
    *out = IpFamily::kIPv4;
  } else if (type == "IPv6") {
    *out = IpFamily::kIPv6;
  } else if (type.empty()) {
    return json::FieldError("addressType", "required");
  } else {
    return json::FieldError("addressType", json::Quote(type) + " not supported");
  }
  return Status::Ok();
}

Status DecodeConditions(const rapidjson::Value& ep, const std::string& path, Endpoint* out) {
  const rapidjson::Value* conditions = nullptr;
  if (Status s = json::ReadObject(ep, "conditions", path, &conditions); !s.ok()) return s;
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
  if (conditions != nullptr) {
    // The path names an error only; built for every endpoint it was a million short-lived
    // strings at 100 000 x 10, whose holes stayed among the long-lived records.
    auto read = [&](const char* key, std::optional<bool>* out) {
      const rapidjson::Value* v = json::Member(*conditions, key);
      if (v == nullptr || v->IsBool()) {
        if (v != nullptr) *out = v->GetBool();
        return Status::Ok();
      }
      return json::ReadBool(*conditions, key, json::Child(path, "conditions"), out);
    };
    if (Status s = read("ready", &ready); !s.ok()) return s;
    if (Status s = read("serving", &serving); !s.ok()) return s;
    if (Status s = read("terminating", &terminating); !s.ok()) return s;
  }
  // The API's rules for unset conditions: ready and serving unset mean true (consumers must
  // assume the best when the producer does not know; kube-proxy's endpointslicecache does the
  // same), terminating unset is false.
  out->ready = ready.value_or(true);
  out->serving = serving.value_or(true);
  out->terminating = terminating.value_or(false);
  return Status::Ok();
}

Status DecodeHints(const rapidjson::Value& ep, const std::string& path, Endpoint* out) {
  const rapidjson::Value* hints = nullptr;
  const rapidjson::Value* zones = nullptr;
  if (Status s = json::ReadObject(ep, "hints", path, &hints); !s.ok() || hints == nullptr) return s;
  const std::string hpath = json::Child(path, "hints");
  if (Status s = json::ReadArray(*hints, "forZones", hpath, &zones); !s.ok() || zones == nullptr) {
    return s;
  }
  for (rapidjson::SizeType i = 0; i < zones->Size(); ++i) {
    const std::string zpath = json::Index(json::Child(hpath, "forZones"), i);
    const rapidjson::Value& zone = (*zones)[i];
    if (!zone.IsObject()) return NotAnObject(zpath, zone);
    std::string name;
    if (Status s = json::ReadString(zone, "name", zpath, &name); !s.ok()) return s;
    out->hint_zones.push_back(std::move(name));
  }
  return Status::Ok();
}

Status DecodeEndpoint(const rapidjson::Value& ep, const std::string& path, IpFamily family,
                      Endpoint* out) {
  if (!ep.IsObject()) return NotAnObject(path, ep);
  const rapidjson::Value* addresses = nullptr;
  if (Status s = json::ReadArray(ep, "addresses", path, &addresses); !s.ok()) return s;
  // Paths are built for errors only (see DecodeConditions).
  const auto apath = [&] { return json::Child(path, "addresses"); };
  if (addresses == nullptr || addresses->Empty()) return json::FieldError(apath(), "required");
  out->addresses.reserve(addresses->Size());
  for (rapidjson::SizeType i = 0; i < addresses->Size(); ++i) {
    const rapidjson::Value& a = (*addresses)[i];
    const auto ipath = [&] { return json::Index(apath(), i); };
    if (!a.IsString()) {
      return json::FieldError(ipath(), std::string("must be a string, got ") + json::TypeName(a));
    }
    const std::string_view text(a.GetString(), a.GetStringLength());
    auto ip = IpAddress::ParseSloppy(text);  // kube-proxy's ParseIPSloppy
    if (!ip) return json::FieldError(ipath(), json::Quote(text) + " is not a valid IP address");
    if (ip->family() != family) {
      return json::FieldError(ipath(), json::Quote(text) + " is not an " +
                                           std::string(IpFamilyName(family)) + " address");
    }
    out->addresses.push_back(*ip);
  }
  if (Status s = DecodeConditions(ep, path, out); !s.ok()) return s;
  std::string node_name, zone;
  if (Status s = json::ReadString(ep, "nodeName", path, &node_name); !s.ok()) return s;
  if (Status s = json::ReadString(ep, "zone", path, &zone); !s.ok()) return s;
  out->node_name = node_name;
  out->zone = zone;
  return DecodeHints(ep, path, out);
}

// Returns Ok with *skip set for a port without a number: kube-proxy ignores such entries (the API
// allows them to mean "all ports", which no node proxy implements).
Status DecodePort(const rapidjson::Value& p, const std::string& path, EndpointSlicePort* out,
                  bool* skip) {
  if (!p.IsObject()) return NotAnObject(path, p);
  if (Status s = json::ReadPortNameAndProtocol(p, path, &out->name, &out->protocol); !s.ok()) {
    return s;
  }
  std::optional<int64_t> port;
  if (Status s = json::ReadInt(p, "port", path, &port); !s.ok()) return s;
  *skip = !port.has_value();
  if (port && (*port < 1 || *port > 65535)) {
    return json::FieldError(json::Child(path, "port"), std::to_string(*port) + " out of range");
  }
  if (port) out->port = static_cast<int32_t>(*port);
  return Status::Ok();
}

Status DecodeInto(const rapidjson::Value& object, EndpointSlice* slice) {
  if (!object.IsObject()) {
    return Status::Error(std::string("must be a JSON object, got ") + json::TypeName(object));
  }
  if (Status s = ObjectMetaDecoder::CheckTypeMeta(object, "EndpointSlice", "discovery.k8s.io/v1");
      !s.ok()) {
    return s;
  }
  if (Status s = ObjectMetaDecoder::Decode(object, ObjectMetaDecoder::NameRule::kDns1123Subdomain,
                                           /*namespaced=*/true, &slice->meta);
      !s.ok()) {
    return s;
  }
  if (Status s = DecodeAddressType(object, &slice->address_type); !s.ok()) return s;

  const std::string label_path = std::string("metadata.labels[") + kServiceNameLabel + "]";
  auto label = slice->meta.labels.find(kServiceNameLabel);
  if (label == slice->meta.labels.end() || label->second.empty()) {
    return json::FieldError(label_path, "required");
  }
  // The label names the Service this slice belongs to, so it must be a valid Service name; it ends
  // up next to the namespace in rule comments.
  if (!dns::IsDns1123Label(label->second)) {
    return json::FieldError(label_path,
                            json::Quote(label->second) + " is not a valid Service name");
  }
  slice->service_name = label->second;

  const rapidjson::Value* endpoints = nullptr;
  if (Status s = json::ReadArray(object, "endpoints", "", &endpoints); !s.ok()) return s;
  if (endpoints != nullptr) {
    // Exact sizes: slices live as long as they are current, and doubling growth left a third of
    // the endpoint storage unused (6 MiB at 10 000 x 10).
    slice->endpoints.reserve(endpoints->Size());
    for (rapidjson::SizeType i = 0; i < endpoints->Size(); ++i) {
      Endpoint ep;
      if (Status s = DecodeEndpoint((*endpoints)[i], json::Index("endpoints", i),
                                    slice->address_type, &ep);
          !s.ok()) {
        return s;
      }
      slice->endpoints.push_back(std::move(ep));
    }
  }

  const rapidjson::Value* ports = nullptr;
  if (Status s = json::ReadArray(object, "ports", "", &ports); !s.ok()) return s;
  if (ports != nullptr) {
    for (rapidjson::SizeType i = 0; i < ports->Size(); ++i) {
      EndpointSlicePort port;
      bool skip = false;
      if (Status s = DecodePort((*ports)[i], json::Index("ports", i), &port, &skip); !s.ok()) {
        return s;
      }
      if (!skip) slice->ports.push_back(std::move(port));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<EndpointSlice> EndpointSliceDecoder::Decode(const rapidjson::Value& object) {
  EndpointSlice slice;
  if (Status s = DecodeInto(object, &slice); !s.ok()) {
    return Status::Error(ObjectMetaDecoder::Describe("endpointslice", slice.meta) + ": " +
                         s.message());
  }
  return slice;
}

bool EndpointSliceDecoder::IsUnsupported(const rapidjson::Value& object) {
  if (!object.IsObject()) return false;
  const rapidjson::Value* type = json::Member(object, "addressType");
  return type != nullptr && type->IsString() && std::string_view(type->GetString()) == "FQDN";
}

}  // namespace kpx
