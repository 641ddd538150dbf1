#include "k8s-watch/decode/service_decoder.h"

#include <gtest/gtest.h>
#include <rapidjson/pointer.h>

#include <functional>
#include <string>
#include <vector>

#include "k8s-watch/decode/skipped_entries.h"
#include "tests/k8s-watch/decode/api_samples.h"
#include "tests/k8s-watch/decode/json_patch.h"

#include "tests/support/addresses.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::Net;

using testing::JsonPatch;
using testing::kLoadBalancerService;
using testing::kWebService;
using testing::Patched;

TEST(ServiceDecoderTest, ClusterIpSample) {
  auto svc = DecodeService(testing::ParseJson(kWebService));
  ASSERT_TRUE(svc.ok()) << svc.status().message();
  EXPECT_EQ(svc->meta.name, "web");
  EXPECT_EQ(svc->meta.namespace_, "default");
  EXPECT_EQ(svc->meta.uid, "6a1c2f7e-3b7d-4c59-9d1e-2f0f5d1e8a11");
  EXPECT_EQ(svc->meta.resource_version, "48213");
  EXPECT_EQ(svc->meta.labels, (std::map<std::string, std::string>{{"app", "web"}}));
  // The last-applied copy is dropped, other annotations kept.
  EXPECT_EQ(svc->meta.annotations, (std::map<std::string, std::string>{{"team", "frontend"}}));
  EXPECT_EQ(svc->type, ServiceType::kClusterIP);
  EXPECT_EQ(svc->cluster_ips, std::vector<IpAddress>{Ip("10.96.12.34")});
  EXPECT_FALSE(svc->headless);
  ASSERT_EQ(svc->ports.size(), 2u);
  EXPECT_EQ(svc->ports[0], (ServicePortSpec{"http", Protocol::kTCP, 80, 0}));
  EXPECT_EQ(svc->ports[1], (ServicePortSpec{"https", Protocol::kTCP, 443, 0}));
  EXPECT_TRUE(svc->external_ips.empty());
  EXPECT_TRUE(svc->load_balancer_ingress_ips.empty());
  EXPECT_FALSE(svc->session_affinity_client_ip);
  EXPECT_EQ(svc->session_affinity_timeout_seconds, 10800);
  EXPECT_EQ(svc->external_traffic_policy, TrafficPolicy::kCluster);
  EXPECT_EQ(svc->internal_traffic_policy, TrafficPolicy::kCluster);
  EXPECT_EQ(svc->health_check_node_port, 0);
  EXPECT_EQ(svc->traffic_distribution, "");
}

TEST(ServiceDecoderTest, LoadBalancerSample) {
  auto svc = DecodeService(testing::ParseJson(kLoadBalancerService));
  ASSERT_TRUE(svc.ok()) << svc.status().message();
  EXPECT_EQ(svc->meta.Key(), "store/shop");
  EXPECT_EQ(svc->type, ServiceType::kLoadBalancer);
  EXPECT_EQ(svc->cluster_ips, (std::vector<IpAddress>{Ip("10.96.40.2"), Ip("fd00:96::40:2")}));
  EXPECT_EQ(svc->ports, (std::vector<ServicePortSpec>{{"http", Protocol::kTCP, 80, 31080},
                                                      {"quic", Protocol::kUDP, 443, 31443}}));
  EXPECT_EQ(svc->external_ips, std::vector<IpAddress>{Ip("198.51.100.7")});
  // VIP and unset modes are kept; Proxy and hostname-only entries are not.
  EXPECT_EQ(svc->load_balancer_ingress_ips,
            (std::vector<IpAddress>{Ip("203.0.113.10"), Ip("203.0.113.11")}));
  EXPECT_EQ(svc->load_balancer_source_ranges,
            (std::vector<Cidr>{Net("203.0.113.0/24"), Net("10.0.0.0/8")}));
  EXPECT_TRUE(svc->session_affinity_client_ip);
  EXPECT_EQ(svc->session_affinity_timeout_seconds, 600);
  EXPECT_EQ(svc->external_traffic_policy, TrafficPolicy::kLocal);
  EXPECT_EQ(svc->internal_traffic_policy, TrafficPolicy::kLocal);
  EXPECT_EQ(svc->health_check_node_port, 32001);
  EXPECT_EQ(svc->traffic_distribution, "PreferClose");
}

// A good object after patching, and what must hold for it.
struct GoodCase {
  const char* name;
  const char* base;
  std::vector<JsonPatch> patches;
  std::function<void(const Service&)> check;
};

TEST(ServiceDecoderTest, GoodVariants) {
  const GoodCase cases[] = {
      {"minimal object takes every default",
       R"({"metadata": {"name": "m", "namespace": "ns"}})",
       {},
       [](const Service& s) {
         EXPECT_EQ(s.type, ServiceType::kClusterIP);
         EXPECT_TRUE(s.cluster_ips.empty());
         EXPECT_TRUE(s.ports.empty());
         EXPECT_EQ(s.session_affinity_timeout_seconds, 10800);
       }},
      {"headless",
       kWebService,
       {{"/spec/clusterIPs", R"(["None"])"}, {"/spec/clusterIP", R"("None")"}},
       [](const Service& s) {
         EXPECT_TRUE(s.headless);
         EXPECT_TRUE(s.cluster_ips.empty());
       }},
      {"clusterIP used when clusterIPs is absent",
       kWebService,
       {{"/spec/clusterIPs", nullptr}, {"/spec/clusterIP", R"("10.96.0.99")"}},
       [](const Service& s) {
         EXPECT_EQ(s.cluster_ips, std::vector<IpAddress>{Ip("10.96.0.99")});
       }},
      {"clusterIPs wins over clusterIP",
       kWebService,
       {{"/spec/clusterIP", R"("10.96.0.99")"}},
       [](const Service& s) {
         EXPECT_EQ(s.cluster_ips, std::vector<IpAddress>{Ip("10.96.12.34")});
       }},
      {"ExternalName has no cluster IP",
       kWebService,
       {{"/spec/type", R"("ExternalName")"},
        {"/spec/externalName", R"("db.example.com")"},
        {"/spec/clusterIPs", R"(["garbage"])"}},
       [](const Service& s) {
         EXPECT_EQ(s.type, ServiceType::kExternalName);
         EXPECT_TRUE(s.cluster_ips.empty());
       }},
      {"NodePort type",
       kWebService,
       {{"/spec/type", R"("NodePort")"}, {"/spec/ports/0/nodePort", "30080"}},
       [](const Service& s) {
         EXPECT_EQ(s.type, ServiceType::kNodePort);
         EXPECT_EQ(s.ports[0].node_port, 30080);
       }},
      {"protocol defaults to TCP",
       kWebService,
       {{"/spec/ports/0/protocol", nullptr}, {"/spec/ports/1/protocol", "null"}},
       [](const Service& s) {
         EXPECT_EQ(s.ports[0].protocol, Protocol::kTCP);
         EXPECT_EQ(s.ports[1].protocol, Protocol::kTCP);
       }},
      {"SCTP",
       kWebService,
       {{"/spec/ports/0/protocol", R"("SCTP")"}},
       [](const Service& s) { EXPECT_EQ(s.ports[0].protocol, Protocol::kSCTP); }},
      {"same port on two protocols",
       kWebService,
       {{"/spec/ports", R"([{"name": "dns", "protocol": "UDP", "port": 53},
                          {"name": "dns-tcp", "protocol": "TCP", "port": 53}])"}},
       [](const Service& s) { EXPECT_EQ(s.ports.size(), 2u); }},
      {"single unnamed port",
       kWebService,
       {{"/spec/ports", R"([{"port": 80}])"}},
       [](const Service& s) { EXPECT_EQ(s.ports[0].name, ""); }},
      {"nodePort 0 means none",
       kWebService,
       {{"/spec/ports/0/nodePort", "0"}},
       [](const Service& s) { EXPECT_EQ(s.ports[0].node_port, 0); }},
      {"externalTrafficPolicy Local forced to Cluster on ClusterIP",
       kWebService,
       {{"/spec/externalTrafficPolicy", R"("Local")"}},
       [](const Service& s) { EXPECT_EQ(s.external_traffic_policy, TrafficPolicy::kCluster); }},
      {"externalTrafficPolicy Local kept on NodePort",
       kWebService,
       {{"/spec/type", R"("NodePort")"},
        {"/spec/externalTrafficPolicy", R"("Local")"},
        {"/spec/healthCheckNodePort", "32000"}},
       [](const Service& s) {
         EXPECT_EQ(s.external_traffic_policy, TrafficPolicy::kLocal);
         EXPECT_EQ(s.health_check_node_port, 0);  // only LoadBalancer services get one
       }},
      {"healthCheckNodePort dropped for Cluster policy",
       kLoadBalancerService,
       {{"/spec/externalTrafficPolicy", R"("Cluster")"}},
       [](const Service& s) { EXPECT_EQ(s.health_check_node_port, 0); }},
      {"source ranges from the annotation when the field is empty",
       kLoadBalancerService,
       {{"/spec/loadBalancerSourceRanges", "[]"},
        {"/metadata/annotations/service.beta.kubernetes.io~1load-balancer-source-ranges",
         R"(" 192.0.2.0/24, 198.51.100.0/24,,")"}},
       [](const Service& s) {
         EXPECT_EQ(s.load_balancer_source_ranges,
                   (std::vector<Cidr>{Net("192.0.2.0/24"), Net("198.51.100.0/24")}));
       }},
      {"annotation ignored when the field is set",
       kLoadBalancerService,
       {{"/metadata/annotations/service.beta.kubernetes.io~1load-balancer-source-ranges",
         R"("not-a-cidr")"}},
       [](const Service& s) { EXPECT_EQ(s.load_balancer_source_ranges.size(), 2u); }},
      // kube-proxy's TestBadIPs and per-entry handling: legacy forms with leading zeros are
      // read as decimal; a bad entry is skipped, its neighbours kept.
      {"legacy IP forms are accepted as kube-proxy's ParseIPSloppy",
       kLoadBalancerService,
       {{"/spec/clusterIP", R"("172.30.0.041")"},
        {"/spec/clusterIPs", R"(["172.30.0.041"])"},
        {"/spec/externalIPs", R"(["1.2.3.004"])"},
        {"/spec/loadBalancerSourceRanges", R"(["203.0.113.000/025"])"}},
       [](const Service& s) {
         EXPECT_EQ(s.cluster_ips, std::vector<IpAddress>{Ip("172.30.0.41")});
         EXPECT_EQ(s.external_ips, std::vector<IpAddress>{Ip("1.2.3.4")});
         EXPECT_EQ(s.load_balancer_source_ranges, std::vector<Cidr>{Net("203.0.113.0/25")});
       }},
      {"a bad external IP is skipped, the others kept",
       kWebService,
       {{"/spec/externalIPs", R"(["198.51.100.7", "1.2.3"])"}},
       [](const Service& s) {
         EXPECT_EQ(s.external_ips, std::vector<IpAddress>{Ip("198.51.100.7")});
       }},
      {"a bad ingress IP is skipped, the others kept",
       kLoadBalancerService,
       {{"/status/loadBalancer/ingress/1/ip", R"("x")"}},
       [](const Service& s) { EXPECT_EQ(s.load_balancer_ingress_ips.size(), 1u); }},
      {"a bad source range is skipped, the others kept",
       kLoadBalancerService,
       {{"/spec/loadBalancerSourceRanges", R"(["10.0.0.0/33", " 192.0.2.0/24\n"])"}},
       [](const Service& s) {
         EXPECT_EQ(s.load_balancer_source_ranges, std::vector<Cidr>{Net("192.0.2.0/24")});
       }},
      {"source ranges are trimmed as Go's TrimSpace (a YAML | block's newline)",
       kLoadBalancerService,
       {{"/spec/loadBalancerSourceRanges", R"(["10.0.0.0/8\n", "\t192.0.2.0/24\r\n"])"}},
       [](const Service& s) {
         EXPECT_EQ(s.load_balancer_source_ranges,
                   (std::vector<Cidr>{Net("10.0.0.0/8"), Net("192.0.2.0/24")}));
       }},
      {"a bad source range in the annotation is skipped",
       kLoadBalancerService,
       {{"/spec/loadBalancerSourceRanges", nullptr},
        {"/metadata/annotations/service.beta.kubernetes.io~1load-balancer-source-ranges",
         R"("10.0.0.0/8,nope")"}},
       [](const Service& s) {
         EXPECT_EQ(s.load_balancer_source_ranges, std::vector<Cidr>{Net("10.0.0.0/8")});
       }},
      {"source range host bits are masked",
       kLoadBalancerService,
       {{"/spec/loadBalancerSourceRanges", R"(["10.1.2.3/8"])"}},
       [](const Service& s) {
         EXPECT_EQ(s.load_balancer_source_ranges, std::vector<Cidr>{Net("10.0.0.0/8")});
       }},
      {"ClientIP affinity without config uses 10800",
       kLoadBalancerService,
       {{"/spec/sessionAffinityConfig", nullptr}},
       [](const Service& s) {
         EXPECT_TRUE(s.session_affinity_client_ip);
         EXPECT_EQ(s.session_affinity_timeout_seconds, 10800);
       }},
      {"affinity timeout limits inclusive",
       kLoadBalancerService,
       {{"/spec/sessionAffinityConfig/clientIP/timeoutSeconds", "86400"}},
       [](const Service& s) { EXPECT_EQ(s.session_affinity_timeout_seconds, 86400); }},
      {"unknown ipMode is not short-circuited",
       kLoadBalancerService,
       {{"/status/loadBalancer/ingress", R"([{"ip": "203.0.113.20", "ipMode": "Tunnel"}])"}},
       [](const Service& s) { EXPECT_TRUE(s.load_balancer_ingress_ips.empty()); }},
      {"nulls mean unset",
       kWebService,
       {{"/spec/type", "null"},
        {"/spec/sessionAffinity", "null"},
        {"/status", "null"},
        {"/metadata/labels", "null"},
        {"/spec/externalIPs", "null"}},
       [](const Service& s) {
         EXPECT_EQ(s.type, ServiceType::kClusterIP);
         EXPECT_TRUE(s.meta.labels.empty());
       }},
      {"unknown fields everywhere are ignored",
       kWebService,
       {{"/spec/futureField", R"({"nested": [1, 2, {"x": null}]})"},
        {"/spec/ports/0/appProtocol", R"("kubernetes.io/h2c")"},
        {"/spec/ports/0/futurePortField", "true"},
        {"/metadata/futureMeta", R"("x")"},
        {"/status/futureStatus", "[]"},
        {"/topLevelExtra", "42"}},
       [](const Service& s) { EXPECT_EQ(s.ports.size(), 2u); }},
      {"hostname-only ingress",
       kWebService,
       {{"/status/loadBalancer/ingress", R"([{"hostname": "lb.example.com"}])"}},
       [](const Service& s) { EXPECT_TRUE(s.load_balancer_ingress_ips.empty()); }},
      {"IPv6 single stack",
       kWebService,
       {{"/spec/clusterIPs", R"(["fd00:96::1"])"}, {"/spec/clusterIP", R"("fd00:96::1")"}},
       [](const Service& s) {
         EXPECT_EQ(s.cluster_ips, std::vector<IpAddress>{Ip("fd00:96::1")});
       }},
      {"kind and apiVersion may be absent (list items)",
       kWebService,
       {{"/kind", nullptr}, {"/apiVersion", nullptr}},
       [](const Service& s) { EXPECT_EQ(s.meta.name, "web"); }},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto svc = DecodeService(Patched(c.base, c.patches));
    ASSERT_TRUE(svc.ok()) << svc.status().message();
    c.check(*svc);
  }
}

// A patch that must make the sample fail, and the exact message (or, with `substring`, a part).
struct BadCase {
  const char* name;
  const char* base;
  std::vector<JsonPatch> patches;
  std::string message;
  bool substring = false;
};

TEST(ServiceDecoderTest, Rejections) {
  const BadCase cases[] = {
      {"not an object", "[1, 2]", {}, "service: must be a JSON object, got array"},
      {"wrong kind",
       kWebService,
       {{"/kind", R"("Pod")"}},
       R"(service: kind: "Pod" is not Service)"},
      {"wrong apiVersion",
       kWebService,
       {{"/apiVersion", R"("v2")"}},
       R"(service: apiVersion: "v2" not supported for Service (want v1))"},
      {"no metadata", kWebService, {{"/metadata", nullptr}}, "service: metadata: required"},
      {"metadata not an object",
       kWebService,
       {{"/metadata", "7"}},
       "service: metadata: must be an object, got number"},
      {"no name", kWebService, {{"/metadata/name", nullptr}}, "service: metadata.name: required"},
      {"name not a string",
       kWebService,
       {{"/metadata/name", "12"}},
       "service: metadata.name: must be a string, got number"},
      {"upper-case name",
       kWebService,
       {{"/metadata/name", R"("Web")"}},
       R"(service: metadata.name: "Web" is not a DNS-1123 label)"},
      {"name with a dot",
       kWebService,
       {{"/metadata/name", R"("web.x")"}},
       R"(service: metadata.name: "web.x" is not a DNS-1123 label)"},
      {"name with newline and quote",
       kWebService,
       {{"/metadata/name", R"("web\n\"-A INPUT -j ACCEPT")"}},
       R"(service: metadata.name: "web\x0a\"-A INPUT -j ACCEPT" is not a DNS-1123 label)"},
      {"name too long",
       kWebService,
       {{"/metadata/name",
         R"("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")"}},
       "is not a DNS-1123 label",
       true},
      {"no namespace",
       kWebService,
       {{"/metadata/namespace", nullptr}},
       "service web: metadata.namespace: required"},
      {"bad namespace",
       kWebService,
       {{"/metadata/namespace", R"("kube_system")"}},
       R"(service web: metadata.namespace: "kube_system" is not a DNS-1123 label)"},
      {"label value not a string",
       kWebService,
       {{"/metadata/labels/app", "1"}},
       R"(service default/web: metadata.labels["app"]: must be a string, got number)"},
      {"spec not an object",
       kWebService,
       {{"/spec", R"("x")"}},
       "service default/web: spec: must be an object, got string"},
      {"unknown type",
       kWebService,
       {{"/spec/type", R"("Weird")"}},
       R"(service default/web: spec.type: "Weird" not supported)"},
      {"bad cluster IP",
       kWebService,
       {{"/spec/clusterIPs/0", R"("10.96.0.300")"}},
       R"(service default/web: spec.clusterIPs[0]: "10.96.0.300" is not a valid IP address)"},
      {"bad legacy clusterIP",
       kWebService,
       {{"/spec/clusterIPs", nullptr}, {"/spec/clusterIP", R"("10.96.0.1/32")"}},
       R"(service default/web: spec.clusterIP: "10.96.0.1/32" is not a valid IP address)"},
      {"two IPv4 cluster IPs",
       kWebService,
       {{"/spec/clusterIPs", R"(["10.96.0.1", "10.96.0.2"])"}},
       R"(service default/web: spec.clusterIPs[1]: second IPv4 cluster IP "10.96.0.2")"},
      {"IPv4-mapped IPv6 cluster IP",
       kWebService,
       {{"/spec/clusterIPs/0", R"("::ffff:10.96.0.1")"}},
       "is not a valid IP address",
       true},
      {"clusterIPs not strings",
       kWebService,
       {{"/spec/clusterIPs", "[1]"}},
       "service default/web: spec.clusterIPs[0]: must be a string, got number"},
      {"port out of range",
       kWebService,
       {{"/spec/ports/1/port", "70000"}},
       "service default/web: spec.ports[1].port: 70000 out of range"},
      {"port zero",
       kWebService,
       {{"/spec/ports/0/port", "0"}},
       "service default/web: spec.ports[0].port: 0 out of range"},
      {"port negative",
       kWebService,
       {{"/spec/ports/0/port", "-80"}},
       "service default/web: spec.ports[0].port: -80 out of range"},
      {"port huge",
       kWebService,
       {{"/spec/ports/0/port", "18446744073709551615"}},
       "service default/web: spec.ports[0].port: 18446744073709551615 out of range"},
      {"port as string",
       kWebService,
       {{"/spec/ports/0/port", R"("80")"}},
       "service default/web: spec.ports[0].port: must be an integer, got string"},
      {"port fractional",
       kWebService,
       {{"/spec/ports/0/port", "80.5"}},
       "service default/web: spec.ports[0].port: must be an integer, got number"},
      {"port missing",
       kWebService,
       {{"/spec/ports/0/port", nullptr}},
       "service default/web: spec.ports[0].port: required"},
      {"nodePort out of range",
       kWebService,
       {{"/spec/ports/0/nodePort", "65536"}},
       "service default/web: spec.ports[0].nodePort: 65536 out of range"},
      {"nodePort negative",
       kWebService,
       {{"/spec/ports/0/nodePort", "-1"}},
       "service default/web: spec.ports[0].nodePort: -1 out of range"},
      {"unknown protocol",
       kWebService,
       {{"/spec/ports/0/protocol", R"("ICMP")"}},
       R"(service default/web: spec.ports[0].protocol: "ICMP" not supported)"},
      {"lower-case protocol",
       kWebService,
       {{"/spec/ports/0/protocol", R"("tcp")"}},
       R"(service default/web: spec.ports[0].protocol: "tcp" not supported)"},
      {"duplicate port and protocol",
       kWebService,
       {{"/spec/ports/1/port", "80"}},
       "service default/web: spec.ports[1]: duplicate port 80/TCP (as in spec.ports[0])"},
      {"duplicate name",
       kWebService,
       {{"/spec/ports/1/name", R"("http")"}},
       R"(service default/web: spec.ports[1].name: duplicate name "http" (as in spec.ports[0]))"},
      {"two unnamed ports",
       kWebService,
       {{"/spec/ports/0/name", nullptr}, {"/spec/ports/1/name", R"("")"}},
       R"(service default/web: spec.ports[1].name: duplicate name "" (as in spec.ports[0]))"},
      {"bad port name",
       kWebService,
       {{"/spec/ports/0/name", R"("HTTP")"}},
       R"(service default/web: spec.ports[0].name: "HTTP" is not a DNS-1123 label)"},
      {"ports not an array",
       kWebService,
       {{"/spec/ports", "{}"}},
       "service default/web: spec.ports: must be an array, got object"},
      {"port entry not an object",
       kWebService,
       {{"/spec/ports/0", "80"}},
       "service default/web: spec.ports[0]: must be an object, got number"},
      {"every source range bad: rejected, not left open",
       kLoadBalancerService,
       {{"/spec/loadBalancerSourceRanges", R"(["10.0.0.0/33", "nope"])"}},
       "service store/shop: spec.loadBalancerSourceRanges: no valid CIDR among 2 source "
       "range(s); refusing to leave the service open"},
      {"every source range in the annotation bad",
       kLoadBalancerService,
       {{"/spec/loadBalancerSourceRanges", nullptr},
        {"/metadata/annotations/service.beta.kubernetes.io~1load-balancer-source-ranges",
         R"("nope")"}},
       "service store/shop: metadata.annotations[service.beta.kubernetes.io/"
       "load-balancer-source-ranges]: no valid CIDR among 1 source range(s); refusing to leave "
       "the service open"},
      {"unknown session affinity",
       kWebService,
       {{"/spec/sessionAffinity", R"("Sticky")"}},
       R"(service default/web: spec.sessionAffinity: "Sticky" not supported)"},
      {"affinity timeout zero",
       kLoadBalancerService,
       {{"/spec/sessionAffinityConfig/clientIP/timeoutSeconds", "0"}},
       "service store/shop: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 out of range"},
      {"affinity timeout too long",
       kLoadBalancerService,
       {{"/spec/sessionAffinityConfig/clientIP/timeoutSeconds", "86401"}},
       "service store/shop: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 86401 out of "
       "range"},
      {"unknown external policy",
       kLoadBalancerService,
       {{"/spec/externalTrafficPolicy", R"("Nearest")"}},
       R"(service store/shop: spec.externalTrafficPolicy: "Nearest" not supported)"},
      {"unknown internal policy",
       kWebService,
       {{"/spec/internalTrafficPolicy", R"("local")"}},
       R"(service default/web: spec.internalTrafficPolicy: "local" not supported)"},
      {"health check port out of range",
       kLoadBalancerService,
       {{"/spec/healthCheckNodePort", "70000"}},
       "service store/shop: spec.healthCheckNodePort: 70000 out of range"},
      {"trafficDistribution not a string",
       kWebService,
       {{"/spec/trafficDistribution", "1"}},
       "service default/web: spec.trafficDistribution: must be a string, got number"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto svc = DecodeService(Patched(c.base, c.patches));
    ASSERT_FALSE(svc.ok());
    if (c.substring) {
      EXPECT_NE(svc.status().message().find(c.message), std::string::npos)
          << svc.status().message();
    } else {
      EXPECT_EQ(svc.status().message(), c.message);
    }
  }
}

// Whatever a hostile API object holds, the message stays one short line.
TEST(ServiceDecoderTest, HostileValuesGiveShortSingleLineMessages) {
  const std::vector<std::string> values = {std::string(1 << 20, 'a'), "x\n\r\t\x01\x7f\xff"};
  for (const char* pointer : {"/metadata/name", "/metadata/namespace", "/spec/type",
                              "/spec/clusterIPs/0", "/spec/ports/0/protocol"}) {
    for (const std::string& value : values) {
      rapidjson::Document doc = testing::ParseJson(kWebService);
      rapidjson::Pointer(pointer).Set(doc, value.c_str());
      auto svc = DecodeService(doc);
      ASSERT_FALSE(svc.ok()) << pointer;
      const std::string m = svc.status().message();
      EXPECT_LT(m.size(), 300u) << pointer;
      EXPECT_EQ(m.find_first_of("\n\r\t\x01\x7f"), std::string::npos) << m;
    }
  }
}

}  // namespace
}  // namespace kpx

namespace kpx {
namespace {

// A skipped entry is a metric as well as a log line.
TEST(ServiceDecoderTest, SkippedEntriesAreCounted) {
  const uint64_t before = SkippedEntries::Total();
  auto svc = DecodeService(Patched(kLoadBalancerService,
                                   {{"/spec/loadBalancerSourceRanges", R"(["nope", "10.0.0.0/8"])"},
                                    {"/spec/externalIPs", R"(["1.2.3"])"}}));
  ASSERT_TRUE(svc.ok()) << svc.status().message();
  EXPECT_EQ(SkippedEntries::Total() - before, 2u);
}

}  // namespace
}  // namespace kpx
