#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/support/state_builder.h"

namespace kpx::testing {

// Random, reproducible change sequences over a fixed pool of service ports, for differential
// tests (incremental syncs against a fresh full sync). Each Step() changes one thing through the
// StateBuilderForTest: adds, replaces or removes a service port, changes its endpoints, or flips
// one of its features (traffic policies, session affinity, NodePort, external and load-balancer
// addresses with source ranges, health check node port, dual-stack). Addresses are fixed per
// pool slot, so services never collide.
//
// IP plan: node 192.168.0.2 / fd00::2; services 172.30.<slot>.1 / fd00:172:30::<slot>;
// endpoints 10.<slot>.0.<n> / fd00:10::<slot>:<n>; external IPs 192.168.99.<slot>; load
// balancers 1.2.<slot>.1; source ranges 203.0.113.0/24 or 192.168.0.0/24 (holds the node).
class RandomChanges {
 public:
  RandomChanges(uint32_t seed, int pool_size);

  // The node the IP plan assumes ("node-a", 192.168.0.2 and fd00::2).
  static void SetUpNode(StateBuilderForTest& builder);
  // Applies one random change to `builder` and returns what it did, for failure messages.
  std::string Step(StateBuilderForTest& builder);

 private:
  struct Slot {
    bool present = false;
    bool v4 = true, v6 = false;
    bool udp = false;
    bool node_port = false;
    bool external_ip = false;
    bool load_balancer = false;
    bool source_ranges = false;
    bool ranges_hold_node = false;
    bool affinity = false;
    bool external_local = false;
    bool internal_local = false;
    int endpoints = 0;           // per family
    uint32_t endpoint_bits = 0;  // which endpoints are local / not ready / terminating
  };

  ServicePortName Name(int slot) const;
  void Apply(StateBuilderForTest& builder, int slot);
  bool Coin() { return std::uniform_int_distribution<int>(0, 1)(rng_) == 1; }
  int Below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::mt19937 rng_;
  std::vector<Slot> slots_;
};

}  // namespace kpx::testing
