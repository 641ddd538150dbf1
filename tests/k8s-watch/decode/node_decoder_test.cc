#include "k8s-watch/decode/node_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/k8s-watch/decode/api_samples.h"
#include "tests/k8s-watch/decode/json_patch.h"

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::Net;

using testing::JsonPatch;
using testing::kNode;
using testing::Patched;

TEST(NodeDecoderTest, Sample) {
  auto node = DecodeNode(testing::ParseJson(kNode));
  ASSERT_TRUE(node.ok()) << node.status().message();
  EXPECT_EQ(node->meta.name, "node-a");
  EXPECT_EQ(node->meta.namespace_, "");
  EXPECT_EQ(node->meta.Key(), "node-a");
  EXPECT_EQ(node->Zone(), "zone-a");
  EXPECT_EQ(node->meta.labels.at("node-role.kubernetes.io/control-plane"), "");
  EXPECT_EQ(node->internal_ips,
            (std::vector<IpAddress>{Ip("192.168.1.10"), Ip("fd00:192:168:1::10")}));
  EXPECT_EQ(node->external_ips, std::vector<IpAddress>{Ip("203.0.113.50")});
  EXPECT_EQ(node->pod_cidrs, (std::vector<Cidr>{Net("10.244.1.0/24"), Net("fd00:244:1::/64")}));
}

TEST(NodeDecoderTest, Variants) {
  {
    SCOPED_TRACE("podCIDR fallback");
    auto node = DecodeNode(Patched(kNode, {{"/spec/podCIDRs", nullptr}}));
    ASSERT_TRUE(node.ok()) << node.status().message();
    EXPECT_EQ(node->pod_cidrs, std::vector<Cidr>{Net("10.244.1.0/24")});
  }
  {
    SCOPED_TRACE("no spec, no status");
    auto node = DecodeNode(Patched(kNode, {{"/spec", nullptr}, {"/status", nullptr}}));
    ASSERT_TRUE(node.ok()) << node.status().message();
    EXPECT_TRUE(node->internal_ips.empty());
    EXPECT_TRUE(node->pod_cidrs.empty());
  }
  {
    SCOPED_TRACE("a stray namespace is ignored");
    auto node = DecodeNode(Patched(kNode, {{"/metadata/namespace", R"("default")"}}));
    ASSERT_TRUE(node.ok()) << node.status().message();
    EXPECT_EQ(node->meta.Key(), "node-a");
  }
  {
    SCOPED_TRACE("unused address types are not parsed");
    auto node = DecodeNode(Patched(kNode, {{"/status/addresses/3/address", R"("not an ip")"}}));
    ASSERT_TRUE(node.ok()) << node.status().message();
  }
  {
    SCOPED_TRACE("dotted name");
    auto node = DecodeNode(Patched(kNode, {{"/metadata/name", R"("ip-10-0-0-1.ec2.internal")"}}));
    ASSERT_TRUE(node.ok()) << node.status().message();
  }
}

struct BadCase {
  const char* name;
  std::vector<JsonPatch> patches;
  std::string message;
};

TEST(NodeDecoderTest, Rejections) {
  const BadCase cases[] = {
      {"wrong kind", {{"/kind", R"("Pod")"}}, R"(node: kind: "Pod" is not Node)"},
      {"no name", {{"/metadata/name", nullptr}}, "node: metadata.name: required"},
      {"bad name",
       {{"/metadata/name", R"("Node A")"}},
       R"(node: metadata.name: "Node A" is not a DNS-1123 subdomain)"},
      {"bad internal IP",
       {{"/status/addresses/1/address", R"("fd00::zz")"}},
       R"(node node-a: status.addresses[1].address: "fd00::zz" is not a valid IP address)"},
      {"bad external IP",
       {{"/status/addresses/2/address", R"("")"}},
       R"(node node-a: status.addresses[2].address: "" is not a valid IP address)"},
      {"bad pod CIDR",
       {{"/spec/podCIDRs/1", R"("fd00:244:1::/129")"}},
       R"(node node-a: spec.podCIDRs[1]: "fd00:244:1::/129" is not a valid CIDR)"},
      {"bad legacy pod CIDR",
       {{"/spec/podCIDRs", "[]"}, {"/spec/podCIDR", R"("10.244.1.0")"}},
       R"(node node-a: spec.podCIDR: "10.244.1.0" is not a valid CIDR)"},
      {"addresses not an array",
       {{"/status/addresses", R"("x")"}},
       "node node-a: status.addresses: must be an array, got string"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto node = DecodeNode(Patched(kNode, c.patches));
    ASSERT_FALSE(node.ok());
    EXPECT_EQ(node.status().message(), c.message);
  }
}

}  // namespace
}  // namespace kpx
