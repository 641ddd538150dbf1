#include "k8s-watch/objects/kept_service.h"

#include <cstdint>
#include <string>

#include "k8s-watch/objects/content_digest.h"

namespace kpx {
namespace {

// A new field in these structs must be added to DigestOf, or two Services that differ only in it
// would look unchanged; the sizes catch that on the platforms CI builds.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(Service) == 416, "a field was added to Service: digest it in DigestOf");
static_assert(sizeof(ServicePortSpec) == 48,
              "a field was added to ServicePortSpec: digest it in DigestOf");
static_assert(sizeof(ObjectMeta) == 224,
              "a field was added to ObjectMeta: digest it in DigestOf or keep it in Identity");
#endif

void Strings(ContentDigest& e, const std::map<std::string, std::string>& m) {
  e.U32(static_cast<uint32_t>(m.size()));
  for (const auto& [k, v] : m) {
    e.Text(k);
    e.Text(v);
  }
}

void Addresses(ContentDigest& e, const std::vector<IpAddress>& v) {
  e.U32(static_cast<uint32_t>(v.size()));
  for (const IpAddress& a : v) e.Address(a);
}

}  // namespace

KeptService::Digest KeptService::DigestOf(const Service& s) {
  ContentDigest e;
  Strings(e, s.meta.labels);
  Strings(e, s.meta.annotations);
  e.U32(static_cast<uint32_t>(s.type));
  Addresses(e, s.cluster_ips);
  e.U32(s.headless ? 1 : 0);
  e.U32(static_cast<uint32_t>(s.ports.size()));
  for (const ServicePortSpec& p : s.ports) {
    e.Text(p.name);
    e.U32(static_cast<uint32_t>(p.protocol));
    e.U32(static_cast<uint32_t>(p.port));
    e.U32(static_cast<uint32_t>(p.node_port));
  }
  Addresses(e, s.external_ips);
  Addresses(e, s.load_balancer_ingress_ips);
  e.U32(static_cast<uint32_t>(s.load_balancer_source_ranges.size()));
  for (const Cidr& c : s.load_balancer_source_ranges) e.Prefix(c);
  e.U32(s.session_affinity_client_ip ? 1 : 0);
  e.U32(static_cast<uint32_t>(s.session_affinity_timeout_seconds));
  e.U32(static_cast<uint32_t>(s.external_traffic_policy));
  e.U32(static_cast<uint32_t>(s.internal_traffic_policy));
  e.U32(static_cast<uint32_t>(s.health_check_node_port));
  e.Text(s.traffic_distribution);
  return e.FinishShort();
}

bool KeptService::Matches(const Service& whole) const {
  return id_.Matches(whole.meta) && DigestOf(whole) == content_;
}

Service KeptService::identity() const {
  Service identity;
  identity.meta = id_.Meta();
  return identity;
}

Service KeptService::IdentityOf(const Service& service) {
  Service identity;
  identity.meta = ObjectIdentity::Of(service.meta).Meta();
  return identity;
}

}  // namespace kpx
