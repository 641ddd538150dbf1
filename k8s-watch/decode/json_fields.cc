#include "k8s-watch/decode/json_fields.h"

#include <cstdio>

#include "k8s-watch/decode/dns_names.h"

namespace kpx::json {

namespace {

// Long enough for any valid Kubernetes name or IP, short enough to keep a log line readable.
constexpr size_t kMaxQuotedBytes = 80;

std::string_view View(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

Status WrongType(std::string_view path, std::string_view want, const rapidjson::Value& got) {
  return FieldError(path, std::string("must be ") + std::string(want) + ", got " + TypeName(got));
}

}  // namespace

const rapidjson::Value* Member(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string Child(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string Index(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

Status FieldError(std::string_view path, std::string_view what) {
  return Status::Error(std::string(path) + ": " + std::string(what));
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  const size_t shown = text.size() > kMaxQuotedBytes ? kMaxQuotedBytes : text.size();
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (shown < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

const char* TypeName(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return "number";
  }
  return "unknown";
}

Status ReadString(const rapidjson::Value& object, const char* key, std::string_view path,
                  std::string* out) {
  const rapidjson::Value* v = Member(object, key);
  if (v == nullptr) return Status::Ok();
  if (!v->IsString()) return WrongType(Child(path, key), "a string", *v);
  out->assign(View(*v));
  return Status::Ok();
}

Status ReadBool(const rapidjson::Value& object, const char* key, std::string_view path,
                std::optional<bool>* out) {
  const rapidjson::Value* v = Member(object, key);
  if (v == nullptr) return Status::Ok();
  if (!v->IsBool()) return WrongType(Child(path, key), "a boolean", *v);
  *out = v->GetBool();
  return Status::Ok();
}

Status ReadInt(const rapidjson::Value& object, const char* key, std::string_view path,
               std::optional<int64_t>* out) {
  const rapidjson::Value* v = Member(object, key);
  if (v == nullptr) return Status::Ok();
  if (v->IsInt64()) {
    *out = v->GetInt64();
    return Status::Ok();
  }
  if (v->IsUint64())
    return FieldError(Child(path, key), std::to_string(v->GetUint64()) + " out of range");
  return WrongType(Child(path, key), "an integer", *v);
}

Status ReadObject(const rapidjson::Value& object, const char* key, std::string_view path,
                  const rapidjson::Value** out) {
  *out = Member(object, key);
  if (*out != nullptr && !(*out)->IsObject()) {
    Status s = WrongType(Child(path, key), "an object", **out);
    *out = nullptr;
    return s;
  }
  return Status::Ok();
}

Status ReadArray(const rapidjson::Value& object, const char* key, std::string_view path,
                 const rapidjson::Value** out) {
  *out = Member(object, key);
  if (*out != nullptr && !(*out)->IsArray()) {
    Status s = WrongType(Child(path, key), "an array", **out);
    *out = nullptr;
    return s;
  }
  return Status::Ok();
}

Status ReadStringMap(const rapidjson::Value& object, const char* key, std::string_view path,
                     std::map<std::string, std::string>* out) {
  const rapidjson::Value* map = nullptr;
  if (Status s = ReadObject(object, key, path, &map); !s.ok()) return s;
  if (map == nullptr) return Status::Ok();
  std::map<std::string, std::string> result;
  for (auto it = map->MemberBegin(); it != map->MemberEnd(); ++it) {
    const std::string_view k = View(it->name);
    // Go decodes a null map value as the empty string; do the same.
    if (it->value.IsNull()) {
      result.emplace(k, std::string());
      continue;
    }
    if (!it->value.IsString()) {
      return WrongType(Child(path, key) + "[" + Quote(k) + "]", "a string", it->value);
    }
    result.emplace(k, View(it->value));
  }
  *out = std::move(result);
  return Status::Ok();
}

Status ReadPortNameAndProtocol(const rapidjson::Value& port, std::string_view path,
                               std::string* name, Protocol* protocol) {
  if (Status s = ReadString(port, "name", path, name); !s.ok()) return s;
  if (!name->empty() && !dns::IsDns1123Label(*name)) {
    return FieldError(Child(path, "name"), Quote(*name) + " is not a DNS-1123 label");
  }
  std::string text;
  if (Status s = ReadString(port, "protocol", path, &text); !s.ok()) return s;
  if (!text.empty()) {
    auto parsed = ParseProtocol(text);
    if (!parsed) return FieldError(Child(path, "protocol"), Quote(text) + " not supported");
    *protocol = *parsed;
  }
  return Status::Ok();
}

}  // namespace kpx::json
