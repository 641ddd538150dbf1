// The demo manifests under examples/manifests are what `kpx` runs on by default; this keeps them
// decodable and describing the demo documented in their README. Objects are looked up by key, so
// adding a demo object does not break the test; changing a documented one does.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "k8s-watch/manifest/manifest_source.h"
#include "tests/support/recording_handler.h"

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
  EXPECT_EQ(stats.objects_skipped, 0u);

  std::map<std::string, Service> services;
  std::map<std::string, EndpointSlice> slices;
  std::map<std::string, Node> nodes;
  const auto calls = handler.calls();
  ASSERT_GE(calls.size(), 3u);
  for (size_t i = 0; i + 3 < calls.size(); ++i) {
    const auto& c = calls[i];
    EXPECT_NE(c.event.find(" add "), std::string::npos) << c.event;
    if (c.service) services.emplace(c.service->meta.Key(), *c.service);
    if (c.slice) slices.emplace(c.slice->meta.Key(), *c.slice);
    if (c.node) nodes.emplace(c.node->meta.Key(), *c.node);
  }
  EXPECT_EQ(calls[calls.size() - 3].event, "service synced");

  ASSERT_TRUE(services.contains("demo/web"));
  const Service& web = services.at("demo/web");
  EXPECT_EQ(web.type, ServiceType::kClusterIP);
  EXPECT_EQ(web.cluster_ips[0].ToString(), "10.96.0.10");
  EXPECT_EQ(web.ports, (std::vector<ServicePortSpec>{{"http", Protocol::kTCP, 80, 0}}));

  ASSERT_TRUE(services.contains("demo/api"));
  const Service& api = services.at("demo/api");
  EXPECT_EQ(api.type, ServiceType::kNodePort);
  EXPECT_EQ(api.cluster_ips[0].ToString(), "10.96.0.20");
  EXPECT_EQ(api.external_traffic_policy, TrafficPolicy::kLocal);
  EXPECT_EQ(api.ports, (std::vector<ServicePortSpec>{{"http", Protocol::kTCP, 8080, 30080}}));

  ASSERT_TRUE(services.contains("demo/dns"));
  const Service& dns = services.at("demo/dns");
  EXPECT_EQ(dns.cluster_ips[0].ToString(), "10.96.0.53");
  EXPECT_EQ(dns.ports, (std::vector<ServicePortSpec>{{"dns", Protocol::kUDP, 53, 0},
                                                     {"dns-tcp", Protocol::kTCP, 53, 0}}));

  ASSERT_TRUE(slices.contains("demo/web-8kz2m"));
  const EndpointSlice& web_slice = slices.at("demo/web-8kz2m");
  EXPECT_EQ(web_slice.service_name, "web");
  ASSERT_EQ(web_slice.endpoints.size(), 3u);
  int local = 0;
  for (const Endpoint& ep : web_slice.endpoints) local += ep.node_name == "kpx-node";
  EXPECT_EQ(local, 2);
  EXPECT_EQ(web_slice.ports, (std::vector<EndpointSlicePort>{{"http", Protocol::kTCP, 8080}}));
  EXPECT_TRUE(slices.contains("demo/api-r5tq9"));
  EXPECT_TRUE(slices.contains("demo/dns-4vx7c"));
  // Every Service in the demo has endpoints.
  for (const auto& [key, svc] : services) {
    bool found = false;
    for (const auto& [slice_key, slice] : slices) {
      found = found ||
              (slice.meta.namespace_ == svc.meta.namespace_ && slice.service_name == svc.meta.name);
    }
    EXPECT_TRUE(found) << key;
  }

  ASSERT_EQ(nodes.size(), 1u);
  const Node& node = nodes.at("kpx-node");
  EXPECT_EQ(node.internal_ips[0].ToString(), "10.99.0.2");
  EXPECT_EQ(node.pod_cidrs[0].ToString(), "10.99.1.0/24");
}

}  // namespace
}  // namespace kpx
