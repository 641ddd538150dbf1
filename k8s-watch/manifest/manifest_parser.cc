#include "k8s-watch/manifest/manifest_parser.h"

#include <vector>

#include "k8s-watch/decode/json_text.h"
#include "k8s-watch/decode/list_decoder.h"
#include "k8s-watch/decode/yaml_to_json.h"

namespace kpx {

namespace {

bool IsJsonName(std::string_view name) { return name.ends_with(".json"); }

}  // namespace

bool ManifestParser::IsManifestName(std::string_view file_name) {
  if (file_name.empty() || file_name.front() == '.') return false;
  return IsJsonName(file_name) || file_name.ends_with(".yaml") || file_name.ends_with(".yml");
}

Status ManifestParser::Parse(std::string_view file_name, std::string_view content,
                             DecodedObjects* out) {
  *out = DecodedObjects();
  std::vector<rapidjson::Document> docs;
  Status s = IsJsonName(file_name) ? JsonText::ParseAll(content, &docs)
                                   : YamlToJson::ConvertAll(content, &docs);
  if (!s.ok()) return s;
  for (size_t i = 0; i < docs.size(); ++i) {
    DecodedObjects one;
    ListDecoder::DecodeInto(docs[i], &one);
    // Name the document when a file holds several, so a failure can be found.
    for (DecodeFailure& f : one.failures) {
      if (docs.size() > 1) f.message = "document " + std::to_string(i + 1) + ": " + f.message;
    }
    for (auto& v : one.services) out->services.push_back(std::move(v));
    for (auto& v : one.endpoint_slices) out->endpoint_slices.push_back(std::move(v));
    for (auto& v : one.nodes) out->nodes.push_back(std::move(v));
    for (auto& v : one.failures) out->failures.push_back(std::move(v));
  }
  return Status::Ok();
}

}  // namespace kpx
