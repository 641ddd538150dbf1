#pragma once

#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <string_view>
#include <vector>

#include "base/status.h"

namespace kpx {

// Turns YAML into the JSON documents the API decoders take, so manifests in either syntax go
// through one set of rules. Scalars resolve as in YAML 1.2's core schema, which is what kubectl
// users expect in practice: quoted and block scalars stay strings ("80" is a string), plain
// true/false become booleans, plain null/~/empty become null, plain integers (decimal, 0x, 0o)
// and decimals become numbers, anything else is a string. Explicit !!str/!!int/!!bool/!!float/
// !!null tags are honoured. YAML 1.1's yes/no/on/off stay strings.
class YamlToJson {
 public:
  // Bounds that keep hostile input (deep nesting, alias bombs) from exhausting stack or memory;
  // real Kubernetes objects stay far below both.
  static constexpr int kMaxDepth = 100;
  static constexpr size_t kMaxNodes = size_t{1} << 22;

  // Converts one parsed YAML node. *out is reset first.
  static Status Convert(const YAML::Node& node, rapidjson::Document* out);

  // Parses a YAML stream of "---"-separated documents and converts each non-empty one. On a
  // syntax or conversion error returns it (with the line) and leaves *out partially filled.
  static Status ConvertAll(std::string_view text, std::vector<rapidjson::Document>* out);
};

}  // namespace kpx
