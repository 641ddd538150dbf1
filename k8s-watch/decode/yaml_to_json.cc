#include "k8s-watch/decode/yaml_to_json.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "k8s-watch/decode/json_fields.h"

namespace kpx {

namespace {

constexpr char kTagStr[] = "tag:yaml.org,2002:str";
constexpr char kTagInt[] = "tag:yaml.org,2002:int";
constexpr char kTagFloat[] = "tag:yaml.org,2002:float";
constexpr char kTagBool[] = "tag:yaml.org,2002:bool";
constexpr char kTagNull[] = "tag:yaml.org,2002:null";

std::string Where(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

Status ErrorAt(const YAML::Node& node, const std::string& what) {
  const std::string where = Where(node.Mark());
  return Status::Error(where.empty() ? what : where + ": " + what);
}

bool IsDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                               : (c >= '0' && c < '0' + base);
    if (!ok) return false;
  }
  return true;
}

// Sets *out to the integer `text` denotes under the core schema, if it is one.
bool ResolveInt(const std::string& text, rapidjson::Value* out) {
  std::string_view s = text;
  bool negative = false;
  int base = 10;
  if (s.starts_with("0x")) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.starts_with("0o")) {
    base = 8;
    s.remove_prefix(2);
  } else if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (!IsDigits(s, base)) return false;
  const std::string digits(s);
  errno = 0;
  const unsigned long long magnitude = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE) {
    // Too big for any integer type: JSON would carry it as a number anyway, and the decoders
    // reject non-integers with a clear message.
    out->SetDouble(std::strtod(text.c_str(), nullptr));
    return true;
  }
  constexpr unsigned long long kMaxInt64 = 9223372036854775807ULL;
  if (!negative) {
    out->SetUint64(magnitude);
  } else if (magnitude <= kMaxInt64) {
    out->SetInt64(-static_cast<int64_t>(magnitude));
  } else if (magnitude == kMaxInt64 + 1) {
    out->SetInt64(INT64_MIN);
  } else {
    out->SetDouble(-static_cast<double>(magnitude));
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

bool ResolveBool(const std::string& s, rapidjson::Value* out) {
  if (s == "true" || s == "True" || s == "TRUE") {
    out->SetBool(true);
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    out->SetBool(false);
    return true;
  }
  return false;
}

class Converter {
 public:
  explicit Converter(rapidjson::Document::AllocatorType& alloc) : alloc_(alloc) {}

  Status Convert(const YAML::Node& node, int depth, rapidjson::Value* out) {
    if (depth > YamlToJson::kMaxDepth) return ErrorAt(node, "nested too deeply");
    if (++nodes_ > YamlToJson::kMaxNodes) return ErrorAt(node, "too many nodes (alias bomb?)");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out->SetNull();
        return Status::Ok();
      case YAML::NodeType::Scalar:
        return Scalar(node, out);
      case YAML::NodeType::Sequence: {
        out->SetArray();
        for (const YAML::Node& item : node) {
          rapidjson::Value v;
          if (Status s = Convert(item, depth + 1, &v); !s.ok()) return s;
          out->PushBack(v, alloc_);
        }
        return Status::Ok();
      }
      case YAML::NodeType::Map: {
        out->SetObject();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar() && !kv.first.IsNull()) {
            return ErrorAt(kv.first, "mapping keys must be scalars");
          }
          const std::string key = kv.first.IsNull() ? "null" : kv.first.Scalar();
          rapidjson::Value k;
          k.SetString(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc_);
          rapidjson::Value v;
          if (Status s = Convert(kv.second, depth + 1, &v); !s.ok()) return s;
          out->AddMember(k, v, alloc_);
        }
        return Status::Ok();
      }
    }
    return ErrorAt(node, "unknown node type");
  }

 private:
  Status Scalar(const YAML::Node& node, rapidjson::Value* out) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    auto as_string = [&] {
      out->SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc_);
      return Status::Ok();
    };
    // "!" is the non-specific tag yaml-cpp gives quoted and block scalars: always strings.
    if (tag == "!" || tag == kTagStr) return as_string();
    if (tag == kTagNull) {
      out->SetNull();
      return Status::Ok();
    }
    if (tag == kTagBool) {
      if (ResolveBool(text, out)) return Status::Ok();
      return ErrorAt(node, json::Quote(text) + " is not a boolean");
    }
    if (tag == kTagInt) {
      if (ResolveInt(text, out)) return Status::Ok();
      return ErrorAt(node, json::Quote(text) + " is not an integer");
    }
    if (tag == kTagFloat) {
      if (IsFloat(text) || ResolveInt(text, out)) {
        out->SetDouble(std::strtod(text.c_str(), nullptr));
        return Status::Ok();
      }
      return ErrorAt(node, json::Quote(text) + " is not a number");
    }
    // Plain scalar ("?") or an application tag: resolve by content.
    if (ResolveBool(text, out) || ResolveInt(text, out)) return Status::Ok();
    if (IsFloat(text)) {
      out->SetDouble(std::strtod(text.c_str(), nullptr));
      return Status::Ok();
    }
    return as_string();
  }

  rapidjson::Document::AllocatorType& alloc_;
  size_t nodes_ = 0;
};

}  // namespace

Status YamlToJson::Convert(const YAML::Node& node, rapidjson::Document* out) {
  out->SetNull();
  Converter converter(out->GetAllocator());
  return converter.Convert(node, 0, out);
}

Status YamlToJson::ConvertAll(std::string_view text, std::vector<rapidjson::Document>* out) {
  // Documents are split here and parsed one by one with YAML::Load, never with YAML::LoadAll:
  // yaml-cpp 0.7's LoadAll allocates without bound on some malformed streams (the fuzzer found a
  // 13-byte one), which would take kpx down with a broken manifest file.
  size_t start = 0;
  int first_line = 0;
  int line = 0;
  auto convert_document = [&](std::string_view doc) -> Status {
    YAML::Node node;
    try {
      node = YAML::Load(std::string(doc));
    } catch (const YAML::Exception& e) {
      YAML::Mark mark = e.mark;
      if (!mark.is_null()) mark.line += first_line;
      // e.what() repeats the position; msg plus our own rendering keeps the line short.
      const std::string where = Where(mark);
      return Status::Error((where.empty() ? "" : where + ": ") + "YAML: " + e.msg);
    }
    if (node.IsNull() || !node.IsDefined()) return Status::Ok();  // an empty document
    rapidjson::Document json;
    if (Status s = Convert(node, &json); !s.ok()) return s;
    out->push_back(std::move(json));
    return Status::Ok();
  };
  for (size_t pos = 0; pos <= text.size();) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view current = text.substr(pos, eol - pos);
    // A document marker: "---" alone or followed by a space (content may follow on that line).
    const bool marker =
        current.substr(0, 3) == "---" &&
        (current.size() == 3 || current[3] == ' ' || current[3] == '\t' || current[3] == '\r');
    if (marker) {
      if (Status s = convert_document(text.substr(start, pos - start)); !s.ok()) return s;
      start = pos + 3;  // keep what follows the marker on its line
      first_line = line;
    }
    pos = eol + 1;
    ++line;
  }
  if (start < text.size()) return convert_document(text.substr(start));
  return Status::Ok();
}

}  // namespace kpx
