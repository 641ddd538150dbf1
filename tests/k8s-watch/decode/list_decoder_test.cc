#include "k8s-watch/decode/list_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/k8s-watch/decode/api_samples.h"
#include "tests/k8s-watch/decode/json_patch.h"

namespace kpx {
namespace {

using testing::kNode;
using testing::kWebService;
using testing::kWebSlice;
using testing::Patched;

std::string List(const char* kind, const char* api_version, const std::string& items) {
  return std::string(R"({"kind": ")") + kind + R"(", "apiVersion": ")" + api_version +
         R"(", "metadata": {"resourceVersion": "48300"}, "items": [)" + items + "]}";
}

TEST(ListDecoderTest, SingleObjects) {
  DecodedObjects svc = ListDecoder::Decode(testing::ParseJson(kWebService));
  EXPECT_EQ(svc.services.size(), 1u);
  DecodedObjects slice = ListDecoder::Decode(testing::ParseJson(kWebSlice));
  EXPECT_EQ(slice.endpoint_slices.size(), 1u);
  DecodedObjects node = ListDecoder::Decode(testing::ParseJson(kNode));
  EXPECT_EQ(node.nodes.size(), 1u);
  for (const DecodedObjects* d : {&svc, &slice, &node}) EXPECT_TRUE(d->failures.empty());
}

// Typed lists as the API serves them: items without kind or apiVersion. One bad item does not
// hide its neighbours.
TEST(ListDecoderTest, ServiceListWithABadItem) {
  const std::string text =
      List("ServiceList", "v1", std::string(kWebService) + "," + kWebService + "," + kWebService);
  DecodedObjects out =
      ListDecoder::Decode(Patched(text, {{"/items/0/kind", nullptr},
                                         {"/items/0/apiVersion", nullptr},
                                         {"/items/1/kind", nullptr},
                                         {"/items/1/metadata/name", R"("bad")"},
                                         {"/items/1/spec/ports/0/port", "0"},
                                         {"/items/2/metadata/name", R"("web2")"}}));
  ASSERT_EQ(out.services.size(), 2u);
  EXPECT_EQ(out.services[0].meta.name, "web");
  EXPECT_EQ(out.services[1].meta.name, "web2");
  ASSERT_EQ(out.failures.size(), 1u);
  EXPECT_EQ(
      out.failures[0],
      (DecodeFailure{"Service", "default/bad",
                     "items[1]: service default/bad: spec.ports[0].port: 0 out of range", false}));
}

TEST(ListDecoderTest, EndpointSliceAndNodeLists) {
  DecodedObjects slices = ListDecoder::Decode(
      testing::ParseJson(List("EndpointSliceList", "discovery.k8s.io/v1", std::string(kWebSlice))));
  EXPECT_EQ(slices.endpoint_slices.size(), 1u);
  EXPECT_TRUE(slices.failures.empty());
  DecodedObjects nodes =
      ListDecoder::Decode(testing::ParseJson(List("NodeList", "v1", std::string(kNode))));
  EXPECT_EQ(nodes.nodes.size(), 1u);
  EXPECT_TRUE(nodes.failures.empty());
}

// kubectl get -o json: a v1 List whose items carry their own kind.
TEST(ListDecoderTest, GenericListDispatchesByKind) {
  const std::string items = std::string(kWebService) + "," + kWebSlice + "," + kNode + "," +
                            R"({"kind": "Deployment", "apiVersion": "apps/v1",
                                "metadata": {"name": "web", "namespace": "default"}},)" +
                            kWebSlice + "," + kWebService + "," + R"({"metadata": {}}, 7)";
  DecodedObjects out = ListDecoder::Decode(
      Patched(List("List", "v1", items),
              {{"/items/4/addressType", R"("FQDN")"}, {"/items/5/apiVersion", R"("v1beta1")"}}));
  EXPECT_EQ(out.services.size(), 1u);
  EXPECT_EQ(out.endpoint_slices.size(), 1u);
  EXPECT_EQ(out.nodes.size(), 1u);
  ASSERT_EQ(out.failures.size(), 5u);
  EXPECT_EQ(
      out.failures[0],
      (DecodeFailure{"", "", R"(items[3]: kind: "Deployment" not used by kpx)", false, true}));
  EXPECT_EQ(out.failures[1],
            (DecodeFailure{"EndpointSlice", "default/web-7x2kq",
                           R"(items[4]: endpointslice default/web-7x2kq: addressType: "FQDN" )"
                           "not supported",
                           true}));
  EXPECT_EQ(out.failures[2].kind, "Service");
  EXPECT_EQ(out.failures[2].message,
            R"(items[5]: service: apiVersion: "v1beta1" not supported for Service (want v1))");
  EXPECT_EQ(out.failures[3].message, "items[6]: kind: required");
  EXPECT_EQ(out.failures[4].message, "items[7]: must be a JSON object, got number");
}

// A list that arrives one item at a time decodes exactly as the whole list: same objects, same
// failures with the same item indexes, for typed and generic lists.
TEST(ListDecoderTest, ItemByItemEqualsWholeList) {
  const std::string generic_items = std::string(kWebService) + "," + kWebSlice + "," + kNode +
                                    R"(,{"kind": "Deployment", "apiVersion": "apps/v1"}, 7)";
  const std::string typed_items = std::string(kWebService) + "," + kWebService;
  std::vector<rapidjson::Document> lists;
  lists.push_back(testing::ParseJson(List("List", "v1", generic_items)));
  lists.push_back(
      Patched(List("ServiceList", "v1", typed_items), {{"/items/1/spec/ports/0/port", "0"}}));
  lists.push_back(testing::ParseJson(List("NodeList", "v1", kNode)));
  lists.push_back(testing::ParseJson(List("ServiceList", "v2", kWebService)));
  lists.push_back(testing::ParseJson(List("DeploymentList", "apps/v1", kWebService)));
  for (size_t n = 0; n < lists.size(); ++n) {
    SCOPED_TRACE(n);
    const rapidjson::Document& list = lists[n];
    const DecodedObjects whole = ListDecoder::Decode(list);
    DecodedObjects one_by_one;
    const rapidjson::Value& items = list["items"];
    for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
      ListDecoder::DecodeListItem(list["kind"].GetString(), list["apiVersion"].GetString(),
                                  items[i], i, &one_by_one);
    }
    EXPECT_EQ(one_by_one.services, whole.services);
    EXPECT_EQ(one_by_one.endpoint_slices, whole.endpoint_slices);
    EXPECT_EQ(one_by_one.nodes, whole.nodes);
    if (n >= 3) {
      // The whole list fails once; item by item, each item says so.
      ASSERT_EQ(whole.failures.size(), 1u);
      ASSERT_EQ(one_by_one.failures.size(), 1u);
      EXPECT_TRUE(one_by_one.failures[0].message.starts_with("items[0]: "));
      continue;
    }
    EXPECT_EQ(one_by_one.failures, whole.failures);
  }
}

TEST(ListDecoderTest, DocumentLevelFailures) {
  struct Case {
    std::string json;
    std::string message;
  };
  const Case cases[] = {
      {"[]", "must be a JSON object, got array"},
      {R"({"apiVersion": "v1"})", "kind: required"},
      {R"({"kind": "ConfigMap", "apiVersion": "v1"})", R"(kind: "ConfigMap" not used by kpx)"},
      {R"({"kind": "List", "apiVersion": "v1", "items": {}})",
       "items: must be an array, got object"},
      {R"({"kind": "List", "apiVersion": "v2", "items": []})",
       R"(apiVersion: "v2" not supported for List)"},
      {R"({"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1beta1", "items": []})",
       R"(apiVersion: "discovery.k8s.io/v1beta1" not supported for EndpointSliceList )"
       "(want discovery.k8s.io/v1)"},
      {R"({"kind": "List", "apiVersion": "v1", "items": [{"kind": "List", "items": []}]})",
       R"(items[0]: kind: nested "List")"},
      {R"({"kind": "PodList", "apiVersion": "v1", "items": []})",
       R"(kind: "PodList" not used by kpx)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    DecodedObjects out = ListDecoder::Decode(testing::ParseJson(c.json));
    ASSERT_EQ(out.failures.size(), 1u);
    EXPECT_EQ(out.failures[0].message, c.message);
    EXPECT_TRUE(out.services.empty());
  }
  // An empty list is not a failure.
  DecodedObjects empty =
      ListDecoder::Decode(testing::ParseJson(R"({"kind": "ServiceList", "apiVersion": "v1"})"));
  EXPECT_TRUE(empty.failures.empty());
}

TEST(ListDecoderTest, FailureKeyOnlyFromTrustworthyMetadata) {
  DecodedObjects out = ListDecoder::Decode(
      Patched(List("List", "v1", std::string(kWebService) + "," + kWebService + "," + kNode),
              {{"/items/0/metadata/name", R"("Bad Name")"},
               {"/items/1/spec/type", R"("Nope")"},
               {"/items/2/status/addresses/0/address", R"("x")"}}));
  ASSERT_EQ(out.failures.size(), 3u);
  EXPECT_EQ(out.failures[0].key, "");
  EXPECT_EQ(out.failures[1].key, "default/web");
  EXPECT_EQ(out.failures[2].key, "node-a");
  EXPECT_EQ(out.failures[2].kind, "Node");
}

TEST(ListDecoderTest, DecodeIntoAppends) {
  DecodedObjects out;
  ListDecoder::DecodeInto(testing::ParseJson(kWebService), &out);
  ListDecoder::DecodeInto(testing::ParseJson(kWebSlice), &out);
  EXPECT_EQ(out.services.size(), 1u);
  EXPECT_EQ(out.endpoint_slices.size(), 1u);
}

}  // namespace
}  // namespace kpx
