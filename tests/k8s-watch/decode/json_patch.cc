#include "tests/k8s-watch/decode/json_patch.h"

#include <gtest/gtest.h>
#include <rapidjson/pointer.h>

#include "k8s-watch/decode/json_text.h"

namespace kpx::testing {

rapidjson::Document ParseJson(std::string_view text) {
  rapidjson::Document doc;
  Status s = JsonText::Parse(text, &doc);
  EXPECT_TRUE(s.ok()) << s.message() << "\n" << text;
  return doc;
}

rapidjson::Document Patched(std::string_view base, const std::vector<JsonPatch>& patches) {
  rapidjson::Document doc = ParseJson(base);
  for (const JsonPatch& p : patches) {
    rapidjson::Pointer pointer(p.pointer);
    EXPECT_TRUE(pointer.IsValid()) << p.pointer;
    if (p.value == nullptr) {
      pointer.Erase(doc);
      continue;
    }
    rapidjson::Document value(&doc.GetAllocator());
    value.Parse(p.value);
    EXPECT_FALSE(value.HasParseError()) << p.value;
    pointer.Set(doc, value);
  }
  return doc;
}

}  // namespace kpx::testing
