#include "k8s-watch/manifest/manifest_parser.h"

#include <gtest/gtest.h>

namespace kpx {
namespace {

TEST(ManifestParserTest, FileNames) {
  struct Case {
    const char* name;
    bool manifest;
  };
  const Case cases[] = {
      {"web.yaml", true},   {"web.yml", true},    {"list.json", true},   {"web.yaml.bak", false},
      {"web.yaml~", false}, {".web.yaml", false}, {".#web.yaml", false}, {"..data", false},
      {"README.md", false}, {"yaml", false},      {"4913", false},       {"", false},
  };
  for (const Case& c : cases)
    EXPECT_EQ(ManifestParser::IsManifestName(c.name), c.manifest) << c.name;
}

constexpr char kService[] = R"(
kind: Service
apiVersion: v1
metadata: {name: web, namespace: demo}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
)";

TEST(ManifestParserTest, YamlDocumentsAndFailuresNamed) {
  DecodedObjects out;
  const std::string text = std::string(kService) + "---\n" +
                           "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n---\n" +
                           "kind: Node\napiVersion: v1\nmetadata: {name: kpx-node}\n";
  ASSERT_TRUE(ManifestParser::Parse("a.yaml", text, &out).ok());
  EXPECT_EQ(out.services.size(), 1u);
  EXPECT_EQ(out.nodes.size(), 1u);
  ASSERT_EQ(out.failures.size(), 1u);
  EXPECT_EQ(out.failures[0].message, R"(document 2: kind: "ConfigMap" not used by kpx)");
}

TEST(ManifestParserTest, JsonByExtension) {
  DecodedObjects out;
  // YAML text in a .json file is a JSON syntax error, and vice versa JSON is valid YAML.
  EXPECT_FALSE(ManifestParser::Parse("a.json", kService, &out).ok());
  const char* json = R"({"kind": "Service", "apiVersion": "v1",
                         "metadata": {"name": "web", "namespace": "demo"}})";
  ASSERT_TRUE(ManifestParser::Parse("a.json", json, &out).ok());
  EXPECT_EQ(out.services.size(), 1u);
  ASSERT_TRUE(ManifestParser::Parse("a.yaml", json, &out).ok());
  EXPECT_EQ(out.services.size(), 1u);
  // Two concatenated JSON objects, as kubectl accepts.
  ASSERT_TRUE(ManifestParser::Parse("a.json", std::string(json) + "\n" + json, &out).ok());
  EXPECT_EQ(out.services.size(), 2u);
}

TEST(ManifestParserTest, SyntaxErrorFailsTheFile) {
  DecodedObjects out;
  Status s = ManifestParser::Parse("a.yaml", std::string(kService) + "---\nkind: [\n", &out);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(out.services.empty());
  EXPECT_NE(s.message().find("YAML"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace kpx
