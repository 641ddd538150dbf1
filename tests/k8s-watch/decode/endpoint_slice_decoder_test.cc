#include "k8s-watch/decode/endpoint_slice_decoder.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/k8s-watch/decode/api_samples.h"
#include "tests/k8s-watch/decode/json_patch.h"

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;

using testing::JsonPatch;
using testing::kWebSlice;
using testing::Patched;

TEST(EndpointSliceDecoderTest, Sample) {
  auto slice = DecodeEndpointSlice(testing::ParseJson(kWebSlice));
  ASSERT_TRUE(slice.ok()) << slice.status().message();
  EXPECT_EQ(slice->meta.Key(), "default/web-7x2kq");
  EXPECT_EQ(slice->service_name, "web");
  EXPECT_EQ(slice->address_type, IpFamily::kIPv4);
  ASSERT_EQ(slice->endpoints.size(), 3u);

  const Endpoint& a = slice->endpoints[0];
  EXPECT_EQ(a.addresses, std::vector<IpAddress>{Ip("10.244.1.5")});
  EXPECT_TRUE(a.ready);
  EXPECT_TRUE(a.serving);
  EXPECT_FALSE(a.terminating);
  EXPECT_EQ(a.node_name, "node-a");
  EXPECT_EQ(a.zone, "zone-a");
  EXPECT_EQ(a.hint_zones, std::vector<std::string>{"zone-a"});

  const Endpoint& b = slice->endpoints[1];
  EXPECT_FALSE(b.ready);
  EXPECT_TRUE(b.serving);
  EXPECT_TRUE(b.terminating);
  EXPECT_EQ(b.hint_zones, (std::vector<std::string>{"zone-b", "zone-c"}));

  // Empty conditions: the API's defaults.
  const Endpoint& c = slice->endpoints[2];
  EXPECT_TRUE(c.ready);
  EXPECT_TRUE(c.serving);
  EXPECT_FALSE(c.terminating);
  EXPECT_EQ(c.zone, "");
  EXPECT_TRUE(c.hint_zones.empty());

  EXPECT_EQ(slice->ports, (std::vector<EndpointSlicePort>{{"http", Protocol::kTCP, 8080},
                                                          {"https", Protocol::kTCP, 8443}}));
}

struct Conditions {
  const char* json;  // value of endpoints[0].conditions, or nullptr to remove it
  bool ready;
  bool serving;
  bool terminating;
};

// The nil semantics of EndpointConditions, spelled out.
TEST(EndpointSliceDecoderTest, ConditionDefaults) {
  const Conditions cases[] = {
      {nullptr, true, true, false},
      {"null", true, true, false},
      {"{}", true, true, false},
      // Serving unset means serving, whatever ready says (the API's rule, kube-proxy's too).
      {R"({"ready": false})", false, true, false},
      {R"({"ready": false, "terminating": true})", false, true, true},
      {R"({"ready": true})", true, true, false},
      {R"({"ready": false, "serving": true})", false, true, false},
      {R"({"ready": true, "serving": false})", true, false, false},
      {R"({"serving": false})", true, false, false},
      {R"({"terminating": true})", true, true, true},
      {R"({"ready": false, "serving": true, "terminating": true})", false, true, true},
      {R"({"ready": null, "serving": null, "terminating": null})", true, true, false},
  };
  for (const Conditions& c : cases) {
    SCOPED_TRACE(c.json == nullptr ? "absent" : c.json);
    auto slice = DecodeEndpointSlice(Patched(kWebSlice, {{"/endpoints/0/conditions", c.json}}));
    ASSERT_TRUE(slice.ok()) << slice.status().message();
    const Endpoint& ep = slice->endpoints[0];
    EXPECT_EQ(ep.ready, c.ready);
    EXPECT_EQ(ep.serving, c.serving);
    EXPECT_EQ(ep.terminating, c.terminating);
  }
}

struct GoodCase {
  const char* name;
  std::vector<JsonPatch> patches;
  std::function<void(const EndpointSlice&)> check;
};

TEST(EndpointSliceDecoderTest, GoodVariants) {
  const GoodCase cases[] = {
      {"IPv6 slice",
       {{"/addressType", R"("IPv6")"},
        {"/endpoints", R"([{"addresses": ["fd00:244::5"], "nodeName": "node-a"}])"}},
       [](const EndpointSlice& s) {
         EXPECT_EQ(s.address_type, IpFamily::kIPv6);
         EXPECT_EQ(s.endpoints[0].addresses, std::vector<IpAddress>{Ip("fd00:244::5")});
       }},
      {"port without a number is skipped",
       {{"/ports", R"([{"name": "all"}, {"name": "http", "port": 8080}, {"port": null}])"}},
       [](const EndpointSlice& s) {
         EXPECT_EQ(s.ports, (std::vector<EndpointSlicePort>{{"http", Protocol::kTCP, 8080}}));
       }},
      {"port name and protocol default",
       {{"/ports", R"([{"port": 53, "protocol": "UDP"}, {"port": 8080}])"}},
       [](const EndpointSlice& s) {
         EXPECT_EQ(s.ports, (std::vector<EndpointSlicePort>{{"", Protocol::kUDP, 53},
                                                            {"", Protocol::kTCP, 8080}}));
       }},
      {"no endpoints, no ports",
       {{"/endpoints", "null"}, {"/ports", nullptr}},
       [](const EndpointSlice& s) {
         EXPECT_TRUE(s.endpoints.empty());
         EXPECT_TRUE(s.ports.empty());
       }},
      {"empty endpoint list",
       {{"/endpoints", "[]"}},
       [](const EndpointSlice& s) { EXPECT_TRUE(s.endpoints.empty()); }},
      {"several addresses kept in order",
       {{"/endpoints/0/addresses", R"(["10.244.1.5", "10.244.1.6"])"}},
       [](const EndpointSlice& s) { EXPECT_EQ(s.endpoints[0].addresses.size(), 2u); }},
      {"unknown fields ignored",
       {{"/endpoints/0/hints/forNodes", R"([{"name": "node-a"}])"},
        {"/endpoints/0/deprecatedTopology", R"({"kubernetes.io/hostname": "node-a"})"},
        {"/endpoints/0/conditions/futureCondition", "true"},
        {"/ports/0/appProtocol", R"("http")"},
        {"/futureTopLevel", R"({"a": [1]})"}},
       [](const EndpointSlice& s) { EXPECT_EQ(s.endpoints.size(), 3u); }},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto slice = DecodeEndpointSlice(Patched(kWebSlice, c.patches));
    ASSERT_TRUE(slice.ok()) << slice.status().message();
    c.check(*slice);
  }
}

struct BadCase {
  const char* name;
  std::vector<JsonPatch> patches;
  std::string message;
};

TEST(EndpointSliceDecoderTest, Rejections) {
  const BadCase cases[] = {
      {"wrong kind",
       {{"/kind", R"("Endpoints")"}},
       R"(endpointslice: kind: "Endpoints" is not EndpointSlice)"},
      {"beta apiVersion",
       {{"/apiVersion", R"("discovery.k8s.io/v1beta1")"}},
       R"(endpointslice: apiVersion: "discovery.k8s.io/v1beta1" not supported for EndpointSlice )"
       "(want discovery.k8s.io/v1)"},
      {"no name", {{"/metadata/name", nullptr}}, "endpointslice: metadata.name: required"},
      {"bad name",
       {{"/metadata/name", R"("web_1")"}},
       R"(endpointslice: metadata.name: "web_1" is not a DNS-1123 subdomain)"},
      {"no namespace",
       {{"/metadata/namespace", R"("")"}},
       "endpointslice web-7x2kq: metadata.namespace: required"},
      {"FQDN",
       {{"/addressType", R"("FQDN")"}},
       R"(endpointslice default/web-7x2kq: addressType: "FQDN" not supported)"},
      {"no addressType",
       {{"/addressType", nullptr}},
       "endpointslice default/web-7x2kq: addressType: required"},
      {"no service-name label",
       {{"/metadata/labels/kubernetes.io~1service-name", nullptr}},
       "endpointslice default/web-7x2kq: metadata.labels[kubernetes.io/service-name]: required"},
      {"bad service-name label",
       {{"/metadata/labels/kubernetes.io~1service-name", R"("We b")"}},
       "endpointslice default/web-7x2kq: metadata.labels[kubernetes.io/service-name]: "
       R"("We b" is not a valid Service name)"},
      {"bad address",
       {{"/endpoints/1/addresses/0", R"("10.244.2.300")"}},
       "endpointslice default/web-7x2kq: endpoints[1].addresses[0]: "
       R"("10.244.2.300" is not a valid IP address)"},
      {"IPv6 address in IPv4 slice",
       {{"/endpoints/0/addresses", R"(["10.244.1.5", "fd00::5"])"}},
       "endpointslice default/web-7x2kq: endpoints[0].addresses[1]: "
       R"("fd00::5" is not an IPv4 address)"},
      {"IPv4 address in IPv6 slice",
       {{"/addressType", R"("IPv6")"}},
       "endpointslice default/web-7x2kq: endpoints[0].addresses[0]: "
       R"("10.244.1.5" is not an IPv6 address)"},
      {"no addresses",
       {{"/endpoints/2/addresses", "[]"}},
       "endpointslice default/web-7x2kq: endpoints[2].addresses: required"},
      {"address not a string",
       {{"/endpoints/0/addresses/0", "{}"}},
       "endpointslice default/web-7x2kq: endpoints[0].addresses[0]: must be a string, got object"},
      {"condition not a bool",
       {{"/endpoints/0/conditions/ready", R"("true")"}},
       "endpointslice default/web-7x2kq: endpoints[0].conditions.ready: must be a boolean, got "
       "string"},
      {"endpoint not an object",
       {{"/endpoints/0", R"("10.244.1.5")"}},
       "endpointslice default/web-7x2kq: endpoints[0]: must be an object, got string"},
      {"hint zone not a string",
       {{"/endpoints/0/hints/forZones/0/name", "1"}},
       "endpointslice default/web-7x2kq: endpoints[0].hints.forZones[0].name: must be a string, "
       "got number"},
      {"port out of range",
       {{"/ports/1/port", "65536"}},
       "endpointslice default/web-7x2kq: ports[1].port: 65536 out of range"},
      {"port zero",
       {{"/ports/0/port", "0"}},
       "endpointslice default/web-7x2kq: ports[0].port: 0 out of range"},
      {"unknown protocol",
       {{"/ports/0/protocol", R"("QUIC")"}},
       R"(endpointslice default/web-7x2kq: ports[0].protocol: "QUIC" not supported)"},
      {"bad port name",
       {{"/ports/0/name", R"("http port")"}},
       R"(endpointslice default/web-7x2kq: ports[0].name: "http port" is not a DNS-1123 label)"},
      {"endpoints not an array",
       {{"/endpoints", "{}"}},
       "endpointslice default/web-7x2kq: endpoints: must be an array, got object"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto slice = DecodeEndpointSlice(Patched(kWebSlice, c.patches));
    ASSERT_FALSE(slice.ok());
    EXPECT_EQ(slice.status().message(), c.message);
  }
}

TEST(EndpointSliceDecoderTest, OnlyFqdnIsUnsupported) {
  EXPECT_TRUE(
      EndpointSliceDecoder::IsUnsupported(Patched(kWebSlice, {{"/addressType", R"("FQDN")"}})));
  EXPECT_FALSE(EndpointSliceDecoder::IsUnsupported(testing::ParseJson(kWebSlice)));
  EXPECT_FALSE(
      EndpointSliceDecoder::IsUnsupported(Patched(kWebSlice, {{"/addressType", R"("IPv5")"}})));
  EXPECT_FALSE(EndpointSliceDecoder::IsUnsupported(testing::ParseJson("[]")));
}

}  // namespace
}  // namespace kpx

namespace kpx {
namespace {

// kube-proxy's TestBadIPs: an endpoint written as "10.180.00.001" is 10.180.0.1.
TEST(EndpointSliceDecoderTest, LegacyAddressFormsAreReadAsKubeProxyDoes) {
  auto slice =
      DecodeEndpointSlice(Patched(kWebSlice, {{"/endpoints/0/addresses/0", R"("10.180.00.001")"}}));
  ASSERT_TRUE(slice.ok()) << slice.status().message();
  EXPECT_EQ(slice->endpoints[0].addresses[0], *IpAddress::Parse("10.180.0.1"));
}

}  // namespace
}  // namespace kpx
