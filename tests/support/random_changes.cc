#include "tests/support/random_changes.h"

#include "tests/support/addresses.h"

namespace kpx::testing {

RandomChanges::RandomChanges(uint32_t seed, int pool_size) : rng_(seed), slots_(pool_size) {}

void RandomChanges::SetUpNode(StateBuilderForTest& builder) {
  builder.Node([](NodeState& n) { n.addresses = {Ip("192.168.0.2"), Ip("fd00::2")}; });
}

ServicePortName RandomChanges::Name(int slot) const {
  return {"ns", "svc" + std::to_string(slot), "p",
          slots_[slot].udp ? Protocol::kUDP : Protocol::kTCP};
}

void RandomChanges::Apply(StateBuilderForTest& builder, int slot) {
  const Slot& s = slots_[slot];
  const std::string n = std::to_string(slot);
  std::string ips;
  if (s.v4) ips = "172.30." + n + ".1";
  if (s.v6) ips += std::string(ips.empty() ? "" : ",") + "fd00:172:30::" + n;
  ServicePortInfo info =
      Svc("ns", "svc" + n, "p", s.udp ? Protocol::kUDP : Protocol::kTCP, 80, ips,
          [&](ServicePortInfo& i) {
            if (s.node_port) i.node_port = 30000 + slot;
            if (s.external_ip) i.external_ips = {Ip("192.168.99." + n)};
            if (s.load_balancer) {
              i.load_balancer_ips = {Ip("1.2." + n + ".1")};
              if (s.v6) i.load_balancer_ips.push_back(Ip("fd00:1:2::" + n));
            }
            if (s.source_ranges) {
              i.load_balancer_source_ranges = {
                  Net(s.ranges_hold_node ? "192.168.0.0/24" : "203.0.113.0/24")};
            }
            i.session_affinity_client_ip = s.affinity;
            i.external_policy = s.external_local ? TrafficPolicy::kLocal : TrafficPolicy::kCluster;
            i.internal_policy = s.internal_local ? TrafficPolicy::kLocal : TrafficPolicy::kCluster;
            if (s.external_local && i.ExternallyAccessible()) {
              i.health_check_node_port = 32000 + slot;
            }
          });
  std::vector<EndpointInfo> eps;
  for (int e = 0; e < s.endpoints; ++e) {
    const uint32_t bits = (s.endpoint_bits >> (3 * e)) & 7;
    auto mutate = [bits](EndpointInfo& ep) {
      if (bits & 2) ep.ready = false;
      if (bits & 4) {
        ep.ready = false;
        ep.terminating = true;
      }
    };
    const std::string en = std::to_string(e + 1);
    for (const std::string& ip : {"10." + n + ".0." + en, "fd00:10::" + n + ":" + en}) {
      eps.push_back((bits & 1) ? LocalEp(ip, 8080, mutate) : Ep(ip, 8080, mutate));
    }
  }
  builder.Add(info, eps);
}

std::string RandomChanges::Step(StateBuilderForTest& builder) {
  const int slot = Below(static_cast<int>(slots_.size()));
  Slot& s = slots_[slot];
  std::string what;
  if (!s.present) {
    s = Slot{};
    s.present = true;
    const int fam = Below(3);
    s.v4 = fam != 1;
    s.v6 = fam != 0;
    s.udp = Below(4) == 0;
    s.endpoints = Below(4);
    s.endpoint_bits = static_cast<uint32_t>(rng_());
    what = "add";
  } else {
    switch (Below(11)) {
      case 0:
        builder.Remove(Name(slot));
        s.present = false;
        return "remove svc" + std::to_string(slot);
      case 1:
      case 2:
        s.endpoints = Below(5);
        what = "endpoints";
        break;
      case 3:
        s.endpoint_bits = static_cast<uint32_t>(rng_());
        what = "endpoint conditions";
        break;
      case 4:
        s.external_local = !s.external_local;
        what = "eTP";
        break;
      case 5:
        s.internal_local = !s.internal_local;
        what = "iTP";
        break;
      case 6:
        s.affinity = !s.affinity;
        what = "affinity";
        break;
      case 7:
        s.node_port = !s.node_port;
        what = "NodePort";
        break;
      case 8:
        s.load_balancer = !s.load_balancer;
        s.source_ranges = Coin();
        s.ranges_hold_node = Coin();
        what = "load balancer";
        break;
      case 9:
        s.external_ip = !s.external_ip;
        what = "external IP";
        break;
      default:
        what = "same content again";
        break;
    }
  }
  Apply(builder, slot);
  return what + " svc" + std::to_string(slot);
}

}  // namespace kpx::testing
