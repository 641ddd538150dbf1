// API object JSON (a single object or a List) through the decoders.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "k8s-watch/decode/json_text.h"
#include "k8s-watch/decode/list_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rapidjson::Document doc;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!kpx::JsonText::Parse(text, &doc).ok()) return 0;
  (void)kpx::ListDecoder::Decode(doc);
  return 0;
}
