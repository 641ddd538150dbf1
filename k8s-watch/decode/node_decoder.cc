#include "k8s-watch/decode/node_decoder.h"

#include <string>
#include <vector>

#include "k8s-watch/decode/json_fields.h"
#include "k8s-watch/decode/object_meta_decoder.h"

namespace kpx {

namespace {

Status DecodeAddresses(const rapidjson::Value& object, Node* node) {
  const rapidjson::Value* status = nullptr;
  const rapidjson::Value* addresses = nullptr;
  if (Status s = json::ReadObject(object, "status", "", &status); !s.ok() || status == nullptr) {
    return s;
  }
  if (Status s = json::ReadArray(*status, "addresses", "status", &addresses);
      !s.ok() || addresses == nullptr) {
    return s;
  }
  for (rapidjson::SizeType i = 0; i < addresses->Size(); ++i) {
    const std::string path = json::Index("status.addresses", i);
    const rapidjson::Value& a = (*addresses)[i];
    if (!a.IsObject()) {
      return json::FieldError(path, std::string("must be an object, got ") + json::TypeName(a));
    }
    std::string type;
    std::string text;
    if (Status s = json::ReadString(a, "type", path, &type); !s.ok()) return s;
    if (Status s = json::ReadString(a, "address", path, &text); !s.ok()) return s;
    std::vector<IpAddress>* into = nullptr;
    if (type == "InternalIP") {
      into = &node->internal_ips;
    } else if (type == "ExternalIP") {
      into = &node->external_ips;
    } else {
      continue;
    }
    auto ip = IpAddress::ParseSloppy(text);  // kube-proxy's ParseIPSloppy
    if (!ip) {
      return json::FieldError(json::Child(path, "address"),
                              json::Quote(text) + " is not a valid IP address");
    }
    into->push_back(*ip);
  }
  return Status::Ok();
}

Status DecodePodCidrs(const rapidjson::Value& object, Node* node) {
  const rapidjson::Value* spec = nullptr;
  if (Status s = json::ReadObject(object, "spec", "", &spec); !s.ok() || spec == nullptr) return s;
  const rapidjson::Value* cidrs = nullptr;
  if (Status s = json::ReadArray(*spec, "podCIDRs", "spec", &cidrs); !s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> texts;  // (path, text)
  if (cidrs != nullptr && !cidrs->Empty()) {
    for (rapidjson::SizeType i = 0; i < cidrs->Size(); ++i) {
      const std::string path = json::Index("spec.podCIDRs", i);
      const rapidjson::Value& c = (*cidrs)[i];
      if (!c.IsString()) {
        return json::FieldError(path, std::string("must be a string, got ") + json::TypeName(c));
      }
      texts.emplace_back(path, std::string(c.GetString(), c.GetStringLength()));
    }
  } else {
    // Nodes from before dual-stack carry only the singular field.
    std::string single;
    if (Status s = json::ReadString(*spec, "podCIDR", "spec", &single); !s.ok()) return s;
    if (!single.empty()) texts.emplace_back("spec.podCIDR", std::move(single));
  }
  for (const auto& [path, text] : texts) {
    auto cidr = Cidr::Parse(text);
    if (!cidr) return json::FieldError(path, json::Quote(text) + " is not a valid CIDR");
    node->pod_cidrs.push_back(*cidr);
  }
  return Status::Ok();
}

Status DecodeInto(const rapidjson::Value& object, Node* node) {
  if (!object.IsObject()) {
    return Status::Error(std::string("must be a JSON object, got ") + json::TypeName(object));
  }
  if (Status s = ObjectMetaDecoder::CheckTypeMeta(object, "Node", "v1"); !s.ok()) return s;
  if (Status s = ObjectMetaDecoder::Decode(object, ObjectMetaDecoder::NameRule::kDns1123Subdomain,
                                           /*namespaced=*/false, &node->meta);
      !s.ok()) {
    return s;
  }
  if (Status s = DecodeAddresses(object, node); !s.ok()) return s;
  return DecodePodCidrs(object, node);
}

}  // namespace

Result<Node> NodeDecoder::Decode(const rapidjson::Value& object) {
  Node node;
  if (Status s = DecodeInto(object, &node); !s.ok()) {
    return Status::Error(ObjectMetaDecoder::Describe("node", node.meta) + ": " + s.message());
  }
  return node;
}

}  // namespace kpx
