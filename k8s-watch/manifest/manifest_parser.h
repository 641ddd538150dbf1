#pragma once

#include <string_view>

#include "base/status.h"
#include "k8s-watch/decode/decoded_objects.h"

namespace kpx {

// Decodes the content of one manifest file: a stream of JSON values (.json) or of "---"-separated
// YAML documents (.yaml, .yml), each a single object or a List.
class ManifestParser {
 public:
  // Whether the directory scan should read `file_name`: the three extensions, and no hidden files
  // (editor swap and lock files such as ".#web.yaml" start with a dot).
  static bool IsManifestName(std::string_view file_name);

  // A syntax error anywhere fails the whole file (its objects cannot be told apart reliably) and
  // leaves *out empty. Otherwise every document is decoded, and per-object problems are in
  // out->failures.
  static Status Parse(std::string_view file_name, std::string_view content, DecodedObjects* out);
};

}  // namespace kpx
