#pragma once

#include <rapidjson/document.h>

#include <string_view>
#include <vector>

#include "base/status.h"

namespace kpx {

// Parses JSON text into RapidJSON documents. Parsing is iterative (no recursion), so deeply nested
// hostile input cannot overflow the stack.
class JsonText {
 public:
  // Exactly one JSON value, optionally surrounded by whitespace.
  static Status Parse(std::string_view text, rapidjson::Document* out);
  // A stream of concatenated JSON values (what kubectl accepts in a .json file); whitespace-only
  // text yields no documents. On error returns it with the byte offset.
  static Status ParseAll(std::string_view text, std::vector<rapidjson::Document>* out);
};

}  // namespace kpx
