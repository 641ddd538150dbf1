// A manifest file's bytes, as YAML (multi-document) and as a JSON stream.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k8s-watch/manifest/manifest_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  kpx::DecodedObjects yaml;
  (void)kpx::ManifestParser::Parse("fuzz.yaml", text, &yaml);
  kpx::DecodedObjects json;
  (void)kpx::ManifestParser::Parse("fuzz.json", text, &json);
  return 0;
}
