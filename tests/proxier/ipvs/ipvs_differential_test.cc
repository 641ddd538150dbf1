// Incremental == fresh full sync: random sequences of changes applied one snapshot at a time to
// one dataplane must leave exactly the kernel state (IPVS table, dummy device addresses, ipsets)
// that a new dataplane produces from the final snapshot alone on an empty kernel. Two sources of
// changes: this file's Scenario, whose small address pools make services share ClusterIPs,
// external IPs, pods and NodePorts (what the IPVS mode reference counts), and tests/support's
// RandomChanges, shared with the other modes, whose services never collide but cover more
// features per port (health check node ports, terminating endpoints, source ranges).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "proxier/ipvs/fake_ipvs_handle.h"
#include "proxier/ipvs/fake_link_handle.h"
#include "proxier/ipvs/ipvs_dataplane.h"
#include "proxier/netfilter/fake_conntrack.h"
#include "proxier/netfilter/fake_ipset.h"
#include "proxier/netfilter/fake_iptables_runner.h"
#include "proxier/netfilter/fake_sysctl.h"
#include "tests/support/random_changes.h"
#include "tests/support/sanitizers.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using testing::RandomChanges;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan (small pools, so that changes collide): ClusterIPs 10.96.0.1-5 and fd00::1-5 (shared
// by several services, and contested when ports match too), external IPs 203.0.113.1-3, load
// balancer IPs 203.0.113.50-51, pods 10.244.1.x (local) and 10.244.2.x (remote) and their IPv6
// twins, node addresses 192.168.0.10 (eth0) and, after a node change, 192.168.1.x (eth1).
// 100 seeds in the main stage, 25 under a sanitizer.
constexpr int kSeeds = SanitizerRounds(100);
constexpr int kSteps = 40;

// One fake kernel: what a dataplane programs and what the comparison reads.
struct Kernel {
  explicit Kernel(std::vector<IpAddress> node_ips = {Ip("192.168.0.10")}) {
    link->AddInterface("lo", {Ip("127.0.0.1")});
    link->AddInterface("eth0", node_ips);
  }
  IpvsSeams Seams() { return {ipvs, link, ipset, iptables, sysctl, conntrack}; }

  // A canonical text of everything the comparison covers: IPVS services with their flags and
  // destinations with weights, the dummy device's addresses, kpx's ipsets with their entries.
  std::string Dump() const {
    std::ostringstream out;
    for (const auto& [key, e] : ipvs->table()) {
      out << "service " << key.ToString() << " " << e.service.scheduler
          << " flags=" << e.service.flags << " timeout=" << e.service.timeout
          << " netmask=" << e.service.netmask << "\n";
      for (const auto& [dkey, d] : e.dests) {
        out << "  dest " << dkey.ToString() << " weight=" << d.weight << "\n";
      }
    }
    if (const auto* dummy = link->Find("kube-ipvs0")) {
      for (const IpAddress& a : dummy->addresses) out << "bound " << a.ToString() << "\n";
    }
    for (const auto& [name, set] : ipset->sets()) {
      out << "set " << name << " " << set.type << "\n";
      for (const auto& e : set.entries) out << "  " << e << "\n";
    }
    return out.str();
  }

  std::shared_ptr<FakeIpvsHandle> ipvs = std::make_shared<FakeIpvsHandle>();
  std::shared_ptr<FakeLinkHandle> link = std::make_shared<FakeLinkHandle>();
  std::shared_ptr<FakeIpset> ipset = std::make_shared<FakeIpset>();
  std::shared_ptr<FakeIptablesRunner> iptables = std::make_shared<FakeIptablesRunner>();
  std::shared_ptr<FakeSysctl> sysctl = std::make_shared<FakeSysctl>();
  std::shared_ptr<FakeConntrack> conntrack = std::make_shared<FakeConntrack>();
};

class Scenario {
 public:
  explicit Scenario(uint32_t seed) : rng_(seed) {
    static const char* const kSchedulers[] = {"rr", "wrr", "lc", "sh", "mh"};
    options_.scheduler = kSchedulers[Pick(5)];
    dual_stack_ = Pick(3) == 0;
    if (dual_stack_) options_.families = {IpFamily::kIPv4, IpFamily::kIPv6};
  }

  // One random change to the builder; returns a description for failure messages.
  std::string Change() {
    const int what = Pick(10);
    if (what == 0 && !ports_.empty()) {
      auto it = std::next(ports_.begin(), Pick(static_cast<int>(ports_.size())));
      const ServicePortName name = it->first;
      ports_.erase(it);
      builder_.Remove(name);
      return "remove " + name.ToString();
    }
    if (what == 1) {
      // A node address appears (NodePorts follow it) and the Node object changes with it.
      const std::string ip = "192.168.1." + std::to_string(1 + Pick(3));
      interfaces_["eth1"].push_back(Ip(ip));
      builder_.Node([&](NodeState& n) { n.addresses.push_back(Ip(ip)); });
      return "node address " + ip;
    }
    if (what <= 4 && !ports_.empty()) {
      // Flip one property of an existing port.
      auto it = std::next(ports_.begin(), Pick(static_cast<int>(ports_.size())));
      Port& p = it->second;
      switch (Pick(7)) {
        case 0:
          p.info.external_policy = Flip(p.info.external_policy);
          break;
        case 1:
          p.info.internal_policy = Flip(p.info.internal_policy);
          break;
        case 2:
          p.info.session_affinity_client_ip = !p.info.session_affinity_client_ip;
          p.info.session_affinity_timeout_seconds = 60 + Pick(3) * 60;
          break;
        case 3:
          p.info.node_port = NodePort();
          break;
        case 4:
          p.info.load_balancer_ips = Some({"203.0.113.50", "203.0.113.51"});
          p.info.load_balancer_source_ranges.clear();
          for (const char* r : {"198.51.100.0/24", "192.0.2.0/25", "2001:db8::/64"}) {
            if (Pick(2)) p.info.load_balancer_source_ranges.push_back(Net(r));
          }
          break;
        case 5:
          p.info.external_ips = Some({"203.0.113.1", "203.0.113.2", "203.0.113.3"});
          break;
        default:
          p.endpoints = Endpoints();
          break;
      }
      builder_.Add(p.info, p.endpoints);
      return "edit " + it->first.ToString();
    }
    // Add or replace a port with everything random.
    static const char* const kNames[] = {"a", "b", "c", "d", "e", "f"};
    static const char* const kPortNames[] = {"", "http"};
    const Protocol proto = Pick(3) == 0 ? Protocol::kUDP : Protocol::kTCP;
    const int n = 1 + Pick(5);
    std::string ips = "10.96.0." + std::to_string(n);
    if (dual_stack_ && Pick(2)) ips += ",fd00::" + std::to_string(n);
    Port p;
    p.info = Svc("default", kNames[Pick(6)], kPortNames[Pick(2)], proto, Pick(2) ? 80 : 443, ips);
    p.info.node_port = NodePort();
    p.info.external_ips = Some({"203.0.113.1", "203.0.113.2", "203.0.113.3"});
    if (Pick(3) == 0) {
      p.info.load_balancer_ips = Some({"203.0.113.50", "203.0.113.51"});
      if (Pick(2)) p.info.load_balancer_source_ranges = {Net("198.51.100.0/24")};
    }
    if (Pick(3) == 0) p.info.external_policy = TrafficPolicy::kLocal;
    if (Pick(4) == 0) p.info.internal_policy = TrafficPolicy::kLocal;
    if (Pick(4) == 0) {
      p.info.session_affinity_client_ip = true;
      p.info.session_affinity_timeout_seconds = 120;
    }
    p.endpoints = Endpoints();
    builder_.Add(p.info, p.endpoints);
    const std::string text = "add " + p.info.name.ToString();
    ports_[p.info.name] = std::move(p);
    return text;
  }

  DesiredState Build() { return builder_.Build(); }
  const IpvsOptions& options() const { return options_; }
  // Gives a kernel the host interfaces this scenario has added so far.
  void Equip(Kernel& k) const {
    for (const auto& [name, ips] : interfaces_) k.link->AddInterface(name, ips);
  }
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

 private:
  struct Port {
    ServicePortInfo info;
    std::vector<EndpointInfo> endpoints;
  };

  static TrafficPolicy Flip(TrafficPolicy p) {
    return p == TrafficPolicy::kLocal ? TrafficPolicy::kCluster : TrafficPolicy::kLocal;
  }
  int NodePort() {
    static const int kPorts[] = {0, 0, 30080, 30081, 30443};
    return kPorts[Pick(5)];
  }
  std::vector<IpAddress> Some(std::vector<std::string> pool) {
    std::vector<IpAddress> out;
    for (const auto& ip : pool) {
      if (Pick(3) == 0) out.push_back(Ip(ip));
    }
    return out;
  }
  std::vector<EndpointInfo> Endpoints() {
    std::vector<EndpointInfo> out;
    const int port = Pick(2) ? 8080 : 8443;
    for (int i = 1; i <= 4; ++i) {
      for (bool local : {true, false}) {
        if (Pick(3) != 0) continue;
        const std::string v4 = std::string(local ? "10.244.1." : "10.244.2.") + std::to_string(i);
        const std::string v6 =
            std::string(local ? "fd00:244:1::" : "fd00:244:2::") + std::to_string(i);
        // Some terminating endpoints: they count only while nothing ready is left.
        const bool terminating = Pick(6) == 0;
        auto edit = [terminating](EndpointInfo& e) {
          if (!terminating) return;
          e.ready = false;
          e.terminating = true;
        };
        for (const std::string& ip : dual_stack_ ? std::vector{v4, v6} : std::vector{v4}) {
          out.push_back(local ? LocalEp(ip, port, edit) : Ep(ip, port, edit));
        }
      }
    }
    return out;
  }

  std::mt19937 rng_;
  IpvsOptions options_;
  bool dual_stack_ = false;
  StateBuilderForTest builder_;
  std::map<ServicePortName, Port> ports_;
  std::map<std::string, std::vector<IpAddress>> interfaces_;
};

TEST(IpvsDifferentialTest, IncrementalSyncsEqualAFreshFullSync) {
  const auto now = [] { return std::chrono::steady_clock::time_point(std::chrono::hours(1)); };
  int compared = 0;
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Scenario sc(seed);
    Kernel live;
    IpvsDataplane dp(sc.options(), live.Seams(), now);
    std::string history;
    for (int step = 0; step < kSteps; ++step) {
      // A burst of 1-3 changes per snapshot, as the runner coalesces them.
      const int changes = 1 + sc.Pick(3);
      for (int c = 0; c < changes; ++c) history += sc.Change() + "; ";
      sc.Equip(live);
      // Some destinations have connections: removing them drains instead of deleting.
      for (const auto& [key, e] : live.ipvs->table()) {
        for (const auto& [dkey, d] : e.dests) {
          if (sc.Pick(4) == 0) live.ipvs->SetConnections(key, dkey, 1, 0);
        }
      }
      const DesiredState state = sc.Build();
      ASSERT_TRUE(dp.Apply(state, false).ok()) << history;
      history += "| ";

      // Whatever drained is gone once its connections end, as between real syncs.
      for (const auto& [key, e] : live.ipvs->table()) {
        for (const auto& [dkey, d] : e.dests) live.ipvs->SetConnections(key, dkey, 0, 0);
      }
      ASSERT_TRUE(dp.Housekeep().ok());
      ASSERT_EQ(dp.counters().draining_destinations, 0u);

      Kernel fresh;
      sc.Equip(fresh);
      IpvsDataplane full(sc.options(), fresh.Seams(), now);
      ASSERT_TRUE(full.Apply(state, true).ok());
      ASSERT_EQ(live.Dump(), fresh.Dump()) << "after step " << step << ": " << history;
      ++compared;
    }
    // kpx's own picture of the kernel matched it too: a full sync finds nothing to do.
    const size_t restores = live.ipset->restores().size();
    ASSERT_TRUE(dp.Apply(sc.Build(), true).ok());
    EXPECT_EQ(dp.counters().last_plan_size, 0u) << history;
    EXPECT_EQ(live.ipset->restores().size(), restores) << live.ipset->restores().back();
  }
  EXPECT_EQ(compared, kSeeds * kSteps);
}

TEST(IpvsDifferentialTest, SharedRandomChangesEqualAFreshFullSync) {
  const auto now = [] { return std::chrono::steady_clock::time_point(std::chrono::hours(1)); };
  IpvsOptions options;
  options.families = {IpFamily::kIPv4, IpFamily::kIPv6};
  const std::vector<IpAddress> node_ips = {Ip("192.168.0.2"), Ip("fd00::2")};
  int compared = 0;
  size_t most_servers = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomChanges changes(seed, 12);
    StateBuilderForTest builder;
    RandomChanges::SetUpNode(builder);
    Kernel live(node_ips);
    IpvsDataplane dp(options, live.Seams(), now);
    std::string history;
    for (int step = 0; step < 40; ++step) {
      history += changes.Step(builder) + "; ";
      const DesiredState state = builder.Build();
      ASSERT_TRUE(dp.Apply(state, false).ok()) << history;
      Kernel fresh(node_ips);
      IpvsDataplane full(options, fresh.Seams(), now);
      ASSERT_TRUE(full.Apply(state, true).ok());
      ASSERT_EQ(live.Dump(), fresh.Dump()) << "after step " << step << ": " << history;
      most_servers = std::max(most_servers, live.ipvs->table().size());
      ++compared;
    }
  }
  EXPECT_EQ(compared, 40 * 40);
  EXPECT_GT(most_servers, 10u) << "the sequences must build something to compare";
}

}  // namespace
}  // namespace kpx
