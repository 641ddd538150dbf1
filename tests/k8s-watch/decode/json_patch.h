#pragma once

#include <rapidjson/document.h>

#include <string_view>
#include <vector>

namespace kpx::testing {

// One edit of a JSON document at a JSON Pointer (RFC 6901): `value` is JSON text, or nullptr to
// remove the member. Tables of these describe how a rejected object differs from a good sample.
struct JsonPatch {
  const char* pointer;
  const char* value;
};

// Parses `text`, failing the current test (and returning null) if it is not JSON.
rapidjson::Document ParseJson(std::string_view text);

// `base` with `patches` applied, in order.
rapidjson::Document Patched(std::string_view base, const std::vector<JsonPatch>& patches);

}  // namespace kpx::testing
