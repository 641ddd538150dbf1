#include "k8s-watch/decode/object_meta_decoder.h"

#include "k8s-watch/decode/dns_names.h"
#include "k8s-watch/decode/json_fields.h"

namespace kpx {

namespace {

// kubectl apply stores a full copy of the object here. kpx never reads it, and keeping it would
// double the memory of every object and turn unrelated edits into updates.
constexpr char kLastAppliedAnnotation[] = "kubectl.kubernetes.io/last-applied-configuration";

Status CheckName(std::string_view path, const std::string& name, bool label) {
  if (name.empty()) return json::FieldError(path, "required");
  const bool ok = label ? dns::IsDns1123Label(name) : dns::IsDns1123Subdomain(name);
  if (ok) return Status::Ok();
  return json::FieldError(path, json::Quote(name) + (label ? " is not a DNS-1123 label"
                                                           : " is not a DNS-1123 subdomain"));
}

}  // namespace

Status ObjectMetaDecoder::CheckTypeMeta(const rapidjson::Value& object, std::string_view kind,
                                        std::string_view api_version) {
  std::string got_kind;
  std::string got_version;
  if (Status s = json::ReadString(object, "kind", "", &got_kind); !s.ok()) return s;
  if (Status s = json::ReadString(object, "apiVersion", "", &got_version); !s.ok()) return s;
  if (!got_kind.empty() && got_kind != kind) {
    return json::FieldError("kind", json::Quote(got_kind) + " is not " + std::string(kind));
  }
  if (!got_version.empty() && got_version != api_version) {
    return json::FieldError("apiVersion", json::Quote(got_version) + " not supported for " +
                                              std::string(kind) + " (want " +
                                              std::string(api_version) + ")");
  }
  return Status::Ok();
}

Status ObjectMetaDecoder::Decode(const rapidjson::Value& object, NameRule name_rule,
                                 bool namespaced, ObjectMeta* out) {
  *out = ObjectMeta();
  const rapidjson::Value* meta = nullptr;
  if (Status s = json::ReadObject(object, "metadata", "", &meta); !s.ok()) return s;
  if (meta == nullptr) return json::FieldError("metadata", "required");

  std::string name;
  if (Status s = json::ReadString(*meta, "name", "metadata", &name); !s.ok()) return s;
  if (Status s = CheckName("metadata.name", name, name_rule == NameRule::kDns1123Label); !s.ok()) {
    return s;
  }
  out->name = std::move(name);

  if (namespaced) {
    std::string ns;
    if (Status s = json::ReadString(*meta, "namespace", "metadata", &ns); !s.ok()) return s;
    if (Status s = CheckName("metadata.namespace", ns, /*label=*/true); !s.ok()) return s;
    out->namespace_ = std::move(ns);
  }

  if (Status s = json::ReadString(*meta, "uid", "metadata", &out->uid); !s.ok()) return s;
  if (Status s = json::ReadString(*meta, "resourceVersion", "metadata", &out->resource_version);
      !s.ok()) {
    return s;
  }
  if (Status s = json::ReadStringMap(*meta, "labels", "metadata", &out->labels); !s.ok()) return s;
  if (Status s = json::ReadStringMap(*meta, "annotations", "metadata", &out->annotations);
      !s.ok()) {
    return s;
  }
  out->annotations.erase(kLastAppliedAnnotation);
  return Status::Ok();
}

std::string ObjectMetaDecoder::Describe(std::string_view kind_for_messages,
                                        const ObjectMeta& meta) {
  std::string out(kind_for_messages);
  // Appended piecewise: GCC 12 at -O3 reports a false -Wrestrict for `" " + meta.Key()`.
  if (!meta.name.empty()) {
    out += ' ';
    out += meta.Key();
  }
  return out;
}

}  // namespace kpx
