#include "k8s-watch/decode/json_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

TEST(JsonTextTest, ParseOne) {
  rapidjson::Document doc;
  ASSERT_TRUE(JsonText::Parse(" {\"a\": 1}\n", &doc).ok());
  EXPECT_EQ(doc["a"].GetInt(), 1);
  Status trailing = JsonText::Parse("{} {}", &doc);
  EXPECT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.message(), "JSON: unexpected data after the value at byte 3");
  Status broken = JsonText::Parse("{\"a\": }", &doc);
  EXPECT_FALSE(broken.ok());
  EXPECT_EQ(broken.message(), "JSON: Invalid value. at byte 6");
}

TEST(JsonTextTest, ParseAllStream) {
  std::vector<rapidjson::Document> docs;
  ASSERT_TRUE(JsonText::ParseAll("{\"a\": 1}\n{\"b\": 2}\n\n[3]", &docs).ok());
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_TRUE(docs[1].HasMember("b"));
  EXPECT_TRUE(docs[2].IsArray());

  docs.clear();
  ASSERT_TRUE(JsonText::ParseAll(" \n\t", &docs).ok());
  EXPECT_TRUE(docs.empty());

  docs.clear();
  Status s = JsonText::ParseAll("{\"a\": 1}\n{\"b\": ", &docs);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("at byte 15"), std::string::npos) << s.message();
}

// Deep nesting must not exhaust the stack: parsing is iterative.
TEST(JsonTextTest, DeepNestingDoesNotCrash) {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  rapidjson::Document doc;
  EXPECT_TRUE(JsonText::Parse(deep, &doc).ok());
  const std::string unbalanced(1'000'000, '[');
  EXPECT_FALSE(JsonText::Parse(unbalanced, &doc).ok());
}

}  // namespace
}  // namespace kpx
