#include "k8s-watch/decode/yaml_to_json.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <vector>

#include "k8s-watch/decode/endpoint_slice_decoder.h"
#include "k8s-watch/decode/service_decoder.h"
#include "tests/k8s-watch/decode/api_samples.h"
#include "tests/k8s-watch/decode/json_patch.h"

namespace kpx {
namespace {

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  v.Accept(writer);
  return buf.GetString();
}

// Converts a YAML text holding exactly one document.
rapidjson::Document Convert(const std::string& yaml) {
  std::vector<rapidjson::Document> docs;
  Status s = YamlToJson::ConvertAll(yaml, &docs);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(docs.size(), 1u);
  if (docs.empty()) return rapidjson::Document();
  return std::move(docs.front());
}

TEST(YamlToJsonTest, ScalarResolution) {
  struct Case {
    const char* yaml_value;
    const char* json_value;
  };
  const Case cases[] = {
      {"80", "80"},
      {"\"80\"", "\"80\""},
      {"'80'", "\"80\""},
      {"-80", "-80"},
      {"+80", "80"},
      {"0x1F", "31"},
      {"0o17", "15"},
      {"010", "10"},
      {"18446744073709551615", "18446744073709551615"},
      {"1.5", "1.5"},
      {"1e3", "1000.0"},
      {".5", "0.5"},
      {"true", "true"},
      {"True", "true"},
      {"FALSE", "false"},
      {"'true'", "\"true\""},
      {"yes", "\"yes\""},
      {"on", "\"on\""},
      {"null", "null"},
      {"~", "null"},
      {"", "null"},
      {"\"null\"", "\"null\""},
      {"None", "\"None\""},
      {".inf", "\".inf\""},
      {"2024-05-02", "\"2024-05-02\""},
      {"10.96.0.1", "\"10.96.0.1\""},
      {"1.2.3", "\"1.2.3\""},
      {"0x", "\"0x\""},
      {"!!str 80", "\"80\""},
      {"!!int \"80\"", "80"},
      {"!!bool \"true\"", "true"},
      {"!!null \"\"", "null"},
      {"!!float 1", "1.0"},
      {"|\n  line one\n  line two", "\"line one\\nline two\\n\""},
      {">-\n  folded\n  text", "\"folded text\""},
      {"[1, \"2\", three]", "[1,\"2\",\"three\"]"},
      {"{a: 1, \"b\": [true]}", "{\"a\":1,\"b\":[true]}"},
      {"\"multi\\nline\"", "\"multi\\nline\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml_value);
    rapidjson::Document doc = Convert(std::string("v: ") + c.yaml_value + "\n");
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(ToJson(doc["v"]), c.json_value);
  }
}

TEST(YamlToJsonTest, BadTaggedScalars) {
  std::vector<rapidjson::Document> docs;
  Status s = YamlToJson::ConvertAll("a: 1\nv: !!int eighty\n", &docs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), R"(line 2, column 4: "eighty" is not an integer)");
  EXPECT_FALSE(YamlToJson::ConvertAll("v: !!bool yes\n", &docs).ok());
}

TEST(YamlToJsonTest, MultipleDocuments) {
  std::vector<rapidjson::Document> docs;
  ASSERT_TRUE(
      YamlToJson::ConvertAll("---\na: 1\n---\n# only a comment\n---\nb: 2\n---\n", &docs).ok());
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(ToJson(docs[0]), R"({"a":1})");
  EXPECT_EQ(ToJson(docs[1]), R"({"b":2})");

  docs.clear();
  ASSERT_TRUE(YamlToJson::ConvertAll("", &docs).ok());
  EXPECT_TRUE(docs.empty());
}

TEST(YamlToJsonTest, SyntaxErrorsNameTheLine) {
  std::vector<rapidjson::Document> docs;
  Status s = YamlToJson::ConvertAll("a: 1\nb: [1, 2\n", &docs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("line ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("YAML: "), std::string::npos) << s.message();

  s = YamlToJson::ConvertAll("a: 1\n  b: 2\n", &docs);
  EXPECT_FALSE(s.ok());
  s = YamlToJson::ConvertAll("? [a, b]\n: 1\n", &docs);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("mapping keys must be scalars"), std::string::npos) << s.message();
}

TEST(YamlToJsonTest, HostileInputIsBounded) {
  std::vector<rapidjson::Document> docs;
  // Deep nesting: refused by yaml-cpp or by our own depth limit, never a stack overflow.
  EXPECT_FALSE(
      YamlToJson::ConvertAll(std::string(10'000, '[') + std::string(10'000, ']'), &docs).ok());
  EXPECT_FALSE(YamlToJson::ConvertAll(std::string(150, '[') + std::string(150, ']'), &docs).ok());
  // Billion laughs: nine levels of tenfold aliases expand to 10^9 nodes.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", " : "") + prev;
    bomb += "]\n";
  }
  docs.clear();
  Status s = YamlToJson::ConvertAll(bomb, &docs);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("too many nodes"), std::string::npos) << s.message();
  // Found by the fuzzer: 13 bytes that make yaml-cpp's LoadAll allocate until the process dies.
  docs.clear();
  (void)YamlToJson::ConvertAll(std::string(",0 5p\tp\t0o#\0"
                                           "5",
                                           13),
                               &docs);
}

TEST(YamlToJsonTest, DocumentMarkersSplitTheStreamAndErrorsKeepTheirLine) {
  std::vector<rapidjson::Document> docs;
  ASSERT_TRUE(YamlToJson::ConvertAll("a: 1\n--- {b: 2}\n---\n---\nc: 3\n...\n", &docs).ok());
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(ToJson(docs[1]), R"({"b":2})");
  EXPECT_EQ(ToJson(docs[2]), R"({"c":3})");
  docs.clear();
  const Status s = YamlToJson::ConvertAll("a: 1\n---\nb: 2\nc: [1\n", &docs);
  ASSERT_FALSE(s.ok());
  // The unclosed flow sequence is reported at the end of the input, as for the whole stream.
  EXPECT_EQ(s.message().rfind("line 5, column 1", 0), 0u) << s.message();
}

// The same Service written as a kubectl user would in YAML decodes to the same struct as the
// API's JSON.
TEST(YamlToJsonTest, YamlManifestEqualsJson) {
  const char* yaml = R"yaml(
# web as written by hand
kind: Service
apiVersion: v1
metadata:
  name: web
  namespace: default
  uid: 6a1c2f7e-3b7d-4c59-9d1e-2f0f5d1e8a11
  resourceVersion: "48213"
  creationTimestamp: 2024-05-02T09:14:03Z
  labels: {app: web}
  annotations:
    team: frontend
spec:
  type: ClusterIP
  clusterIP: 10.96.12.34
  clusterIPs: [10.96.12.34]
  selector:
    app: web
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: 8080
    - name: https
      port: 443
      targetPort: https
  sessionAffinity: None
  internalTrafficPolicy: Cluster
status:
  loadBalancer: {}
)yaml";
  auto from_yaml = DecodeService(Convert(yaml));
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.status().message();
  auto from_json = DecodeService(testing::ParseJson(testing::kWebService));
  ASSERT_TRUE(from_json.ok());
  EXPECT_EQ(*from_yaml, *from_json);

  // A quoted port stays a string and is refused, as kubectl would refuse it.
  auto quoted = DecodeService(Convert(R"(
kind: Service
apiVersion: v1
metadata: {name: web, namespace: default}
spec:
  ports: [{port: "80"}]
)"));
  ASSERT_FALSE(quoted.ok());
  EXPECT_EQ(quoted.status().message(),
            "service default/web: spec.ports[0].port: must be an integer, got string");
}

TEST(YamlToJsonTest, YamlSliceEqualsJson) {
  const char* yaml = R"yaml(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-7x2kq
  namespace: default
  uid: c7d0f3a1-8f0c-4b8e-9a52-d2b7f6a4e901
  resourceVersion: "48250"
  labels:
    app: web
    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
    kubernetes.io/service-name: web
  annotations:
    endpoints.kubernetes.io/last-change-trigger-time: "2024-05-02T09:15:11Z"
addressType: IPv4
endpoints:
  - addresses: [10.244.1.5]
    conditions: {ready: true, serving: true, terminating: false}
    nodeName: node-a
    zone: zone-a
    hints:
      forZones: [{name: zone-a}]
  - addresses: ["10.244.2.7"]
    conditions:
      ready: false
      serving: true
      terminating: true
    nodeName: node-b
    zone: zone-b
    hints: {forZones: [{name: zone-b}, {name: zone-c}]}
  - addresses:
      - 10.244.3.9
    conditions: {}
    nodeName: node-c
ports:
  - {name: http, protocol: TCP, port: 8080}
  - name: https
    port: 8443
)yaml";
  auto from_yaml = DecodeEndpointSlice(Convert(yaml));
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.status().message();
  auto from_json = DecodeEndpointSlice(testing::ParseJson(testing::kWebSlice));
  ASSERT_TRUE(from_json.ok());
  EXPECT_EQ(*from_yaml, *from_json);
}

}  // namespace
}  // namespace kpx
