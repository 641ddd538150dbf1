// The demo manifests under examples/manifests are what `kpx` runs on by default; this keeps them
// decodable and describing the documented demo.
#include <gtest/gtest.h>

#include <string>

#include "k8s-watch/manifest/manifest_source.h"
#include "tests/k8s-watch/manifest/recording_handler.h"

namespace kpx {
namespace {

TEST(ExampleManifestsTest, DecodeToTheDocumentedDemo) {
  testing::RecordingHandler handler;
  SourceStats stats;
  ManifestSource source(std::string(KPX_SOURCE_DIR) + "/examples/manifests", "kpx-node", &handler,
                        &handler, &handler, &stats);
  ASSERT_TRUE(source.Start().ok());
  source.Stop();
  EXPECT_EQ(stats.objects_rejected, 0u);
  EXPECT_EQ(handler.Events(),
            (std::vector<std::string>{"service add demo/api", "service add demo/dns",
                                      "service add demo/web", "endpointslice add demo/api-r5tq9",
                                      "endpointslice add demo/dns-4vx7c",
                                      "endpointslice add demo/web-8kz2m", "node add kpx-node",
                                      "service synced", "endpointslice synced", "node synced"}));

  const auto calls = handler.Calls();
  const Service& api = *calls[0].service;
  EXPECT_EQ(api.type, ServiceType::kNodePort);
  EXPECT_EQ(api.external_traffic_policy, TrafficPolicy::kLocal);
  EXPECT_EQ(api.ports, (std::vector<ServicePortSpec>{{"http", Protocol::kTCP, 8080, 30080}}));
  const Service& dns = *calls[1].service;
  EXPECT_EQ(dns.cluster_ips[0].ToString(), "10.96.0.53");
  EXPECT_EQ(dns.ports, (std::vector<ServicePortSpec>{{"dns", Protocol::kUDP, 53, 0},
                                                     {"dns-tcp", Protocol::kTCP, 53, 0}}));
  const Service& web = *calls[2].service;
  EXPECT_EQ(web.cluster_ips[0].ToString(), "10.96.0.10");
  EXPECT_EQ(web.ports, (std::vector<ServicePortSpec>{{"http", Protocol::kTCP, 80, 0}}));

  const EndpointSlice& web_slice = *calls[5].slice;
  ASSERT_EQ(web_slice.endpoints.size(), 3u);
  int local = 0;
  for (const Endpoint& ep : web_slice.endpoints) local += ep.node_name == "kpx-node";
  EXPECT_EQ(local, 2);
  EXPECT_EQ(web_slice.ports, (std::vector<EndpointSlicePort>{{"http", Protocol::kTCP, 8080}}));

  const Node& node = *calls[6].node;
  EXPECT_EQ(node.internal_ips[0].ToString(), "10.99.0.2");
  EXPECT_EQ(node.pod_cidrs[0].ToString(), "10.99.1.0/24");
}

}  // namespace
}  // namespace kpx
