// NftDataplane over FakeNftHandle, the stateful fake kernel that parses the very batches the real
// handle would send: what partial syncs write, restart adoption, drift repair, failure recovery,
// and the differential test (incremental syncs == a fresh full sync, on random change sequences).
#include "proxier/nftables/nft_dataplane.h"

#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>
#include <random>

#include "proxier/netfilter/fake_conntrack.h"
#include "proxier/nftables/fake_nft_handle.h"
#include "tests/support/sanitizers.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

#define APPLY_OK(dp, state, full)                  \
  do {                                             \
    const Status st_ = (dp)->Apply((state), full); \
    ASSERT_TRUE(st_.ok()) << st_.message();        \
  } while (0)

using testing::Ep;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: services 172.30.0.0/16, pods 10.1.0.0/16 (local ones on node-a), node 192.168.0.1.
constexpr char kNode[] = "192.168.0.1";

NftOptions Options() {
  NftOptions o;
  o.cluster_cidrs = {Net("10.1.0.0/16"), Net("fd01::/64")};
  return o;
}

struct Fixture {
  FakeNftHandle* fake = nullptr;
  std::unique_ptr<NftDataplane> dataplane;
};

Fixture Make(std::unique_ptr<FakeNftHandle> fake = std::make_unique<FakeNftHandle>(),
             NftOptions options = Options()) {
  Fixture f;
  f.fake = fake.get();
  f.dataplane = std::make_unique<NftDataplane>(std::move(options), std::move(fake), nullptr);
  return f;
}

// Growing sets declared with no headroom beyond a quarter of their elements (and one), so a
// few services are enough to take them past their size.
NftOptions TightSets() {
  NftOptions o = Options();
  o.min_set_size = 1;
  return o;
}

// The table with service ids replaced by a name derived from what points at them (the smallest
// dispatch key), so two tables built with different id assignments compare equal when they
// behave the same.
std::map<std::string, std::map<std::string, std::string>> Canonical(const NftTableDump& t) {
  std::map<uint32_t, std::string> label;
  for (const char* m : {nft::kServiceIds, nft::kNodePortIds}) {
    auto s = t.sets.find(m);
    if (s == t.sets.end()) continue;
    for (const auto& [key, v] : s->second.elements) {
      uint32_t id = 0;
      std::memcpy(&id, v.data.data(), 4);
      const std::string name = std::string(m) + ":" + NftValue{key, false, 0, ""}.ToString();
      auto [it, inserted] = label.emplace(id & nft::kIdMask, name);
      if (!inserted && name < it->second) it->second = name;
    }
  }
  auto name_of = [&](const std::string& four) {
    uint32_t id = 0;
    std::memcpy(&id, four.data(), 4);
    auto it = label.find(id & nft::kIdMask);
    const std::string base = it == label.end() ? "orphan" + std::to_string(id) : it->second;
    return base + ((id & 1) ? "/local" : "/cluster") +
           ((id & nft::kPolicyMask) != 0 ? "/policy" + std::to_string(id & nft::kPolicyMask) : "");
  };
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& [name, set] : t.sets) {
    auto& o = out[name];
    for (const auto& [key, v] : set.elements) {
      std::string k = NftValue{key, false, 0, ""}.ToString();
      std::string d = v.ToString();
      if (name == nft::kServiceIds || name == nft::kNodePortIds) d = name_of(v.data);
      if (name == nft::kEndpointSets || name == nft::kAffinityTimeouts) k = name_of(key);
      if (name == nft::kAffinityEndpoints) {
        k = name_of(key.substr(0, 4)) + "#" + NftValue{key.substr(4), false, 0, ""}.ToString();
      }
      if (nft::IsEndpointMap(name)) {
        k = name_of(key.substr(0, 4)) + "#" + NftValue{key.substr(4), false, 0, ""}.ToString();
      }
      o[k] = d;
    }
  }
  for (const auto& [name, chain] : t.chains) {
    std::string rules;
    for (const auto& r : chain.rules) rules += r + "\n";
    out["chain " + name]["rules"] = rules;
  }
  return out;
}

NftTableDump Dump(FakeNftHandle& fake, IpFamily f) {
  auto d = fake.Dump(f, nft::kTable);
  EXPECT_TRUE(d.ok());
  return *d;
}

// Elements over every endpoints map.
size_t EndpointElements(const NftTableDump& t) {
  size_t n = 0;
  for (const auto& [name, set] : t.sets) {
    if (nft::IsEndpointMap(name)) n += set.elements.size();
  }
  return n;
}

class NftDataplaneTest : public ::testing::Test {
 protected:
  NftDataplaneTest() {
    builder_.Node([](NodeState& n) { n.addresses = {Ip(kNode)}; });
  }
  void Web(const std::vector<EndpointInfo>& eps,
           const std::function<void(ServicePortInfo&)>& mutate = nullptr) {
    builder_.Add(Svc("default", "web", "", Protocol::kTCP, 80, "172.30.0.10,fd00::10",
                     [&](ServicePortInfo& s) {
                       s.node_port = 30080;
                       if (mutate) mutate(s);
                     }),
                 eps);
  }
  // 300 ClusterIP services of two endpoints each (one local), enough for several transactions
  // at a 16 KiB batch bound; `twice` lists the remote endpoint twice, `mutate` shapes port i.
  void AddManyServices(bool twice = false,
                       const std::function<void(int, ServicePortInfo&)>& mutate = nullptr) {
    for (int i = 0; i < 300; ++i) {
      std::vector<EndpointInfo> eps = {LocalEp("10.1.1." + std::to_string(i % 200 + 1), 80),
                                       Ep("10.1.2.1", 80)};
      if (twice) eps.push_back(Ep("10.1.2.1", 80));
      builder_.Add(Svc("default", "s" + std::to_string(i), "", Protocol::kTCP, 80,
                       "172.30." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1),
                       [&](ServicePortInfo& s) {
                         if (mutate) mutate(i, s);
                       }),
                   eps);
    }
  }
  StateBuilderForTest builder_{"node-a"};
};

TEST_F(NftDataplaneTest, FullSyncBuildsTablesWithServiceElements) {
  Fixture f = Make();
  Web({Ep("10.1.0.2", 8080), Ep("fd01::2", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  for (IpFamily fam : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    const NftTableDump t = Dump(*f.fake, fam);
    ASSERT_TRUE(t.exists);
    EXPECT_EQ(t.chains.size(), BuildNftLayout(fam, Options(), NodeState{}).chains.size());
    const std::string cip = fam == IpFamily::kIPv4 ? "172.30.0.10" : "fd00::10";
    auto policy = [](const NftValue& v) {
      uint32_t id = 0;
      std::memcpy(&id, v.data.data(), 4);
      return id & nft::kPolicyMask;
    };
    const auto& ids = t.sets.at(nft::kServiceIds).elements;
    ASSERT_EQ(ids.count(NftServiceKey(Ip(cip), Protocol::kTCP, 80)), 1u);
    EXPECT_EQ(policy(ids.at(NftServiceKey(Ip(cip), Protocol::kTCP, 80))),
              nft::kPolicyInternalCluster);
    const auto& node_ports = t.sets.at(nft::kNodePortIds).elements;
    ASSERT_EQ(node_ports.size(), 1u);
    EXPECT_EQ(policy(node_ports.begin()->second), nft::kPolicyExternalCluster);
    // The policy codes lead to their chains.
    const auto& policies = t.sets.at(nft::kPolicies).elements;
    EXPECT_EQ(policies.at(NftU32(nft::kPolicyInternalCluster)).chain, nft::kInternalCluster);
    EXPECT_EQ(policies.at(NftU32(nft::kPolicyExternalCluster)).chain, nft::kExternalCluster);
    EXPECT_EQ(t.sets.at("endpoints-1").elements.size(), 1u);
    EXPECT_EQ(EndpointElements(t), 1u);
  }
}

TEST_F(NftDataplaneTest, PartialSyncWritesOnlyTheChangedElements) {
  Fixture f = Make();
  Web({Ep("10.1.0.2", 8080)});
  for (int i = 0; i < 20; ++i) {
    builder_.Add(Svc("default", "other" + std::to_string(i), "", Protocol::kTCP, 80,
                     "172.30.1." + std::to_string(i + 1)),
                 {Ep("10.1.1." + std::to_string(i + 1), 80)});
  }
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const size_t commits = f.fake->commits();
  const uint64_t rules = f.dataplane->counters().rules_written;
  Web({Ep("10.1.0.2", 8080), Ep("10.1.0.3", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  EXPECT_EQ(f.fake->commits(), commits + 1);  // one transaction
  EXPECT_EQ(f.dataplane->counters().rules_written, rules);
  // endpoint-sets: ep-1 -> ep-2 (delete + add); the set moves from endpoints-1 to endpoints-2
  // (one delete, two adds); no hairpin pair (the endpoints are on other nodes).
  EXPECT_EQ(f.dataplane->counters().last_sync_elements, 5u);
  const NftTableDump t = Dump(*f.fake, IpFamily::kIPv4);
  EXPECT_EQ(t.sets.at("endpoints-1").elements.size(), 20u);
  EXPECT_EQ(t.sets.at("endpoints-2").elements.size(), 2u);
  EXPECT_EQ(EndpointElements(t), 22u);
  // Nothing changed: nothing is sent.
  APPLY_OK(f.dataplane, builder_.Build(), false);
  EXPECT_EQ(f.fake->commits(), commits + 1);
}

TEST_F(NftDataplaneTest, RestartAdoptsTheTableWithoutWriting) {
  Fixture first = Make();
  Web({Ep("10.1.0.2", 8080), Ep("10.1.0.3", 8080)});
  builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, "172.30.0.53"), {Ep("10.1.0.4", 53)});
  builder_.Add(Svc("default", "aaa", "", Protocol::kUDP, 53, "172.30.0.54"), {Ep("10.1.0.5", 53)});
  APPLY_OK(first.dataplane, builder_.Build(), false);
  const NftTableDump before = Dump(*first.fake, IpFamily::kIPv4);
  // kpx restarts: a new dataplane and handle on the same kernel. "aaa" sorts first, so fresh id
  // allocation would differ from the one in the kernel; adoption keeps the kernel's.
  Fixture second = Make(std::make_unique<FakeNftHandle>(first.fake->tables()));
  APPLY_OK(second.dataplane, builder_.Build(), false);
  EXPECT_EQ(second.fake->commits(), 0u);
  EXPECT_EQ(Canonical(Dump(*second.fake, IpFamily::kIPv4)), Canonical(before));
  // And it goes on with partial syncs from there.
  Web({Ep("10.1.0.3", 8080)});
  APPLY_OK(second.dataplane, builder_.Build(), false);
  EXPECT_EQ(second.fake->commits(), 1u);
  EXPECT_EQ(EndpointElements(Dump(*second.fake, IpFamily::kIPv4)), 3u);
}

TEST_F(NftDataplaneTest, ARestartDoesNotAdoptAnImplausiblyLargeServiceId) {
  // The id bitmap is sized by the largest id in use: an id kpx would never hand out (someone
  // wrote it) is not adopted; the port gets a fresh one and the table is repaired.
  Fixture first = Make();
  Web({Ep("10.1.0.2", 8080)});
  APPLY_OK(first.dataplane, builder_.Build(), false);
  auto tables = first.fake->tables();
  Fixture second = Make(std::make_unique<FakeNftHandle>(tables));
  NftTableDump* t = second.fake->Table(IpFamily::kIPv4, nft::kTable);
  ASSERT_NE(t, nullptr);
  const std::string key = NftServiceKey(Ip("172.30.0.10"), Protocol::kTCP, 80);
  auto& ids = t->sets.at(nft::kServiceIds).elements;
  ASSERT_EQ(ids.count(key), 1u);
  const std::string huge = NftU32(0x40000000u);
  ids[key].data = huge;
  t->sets.at(nft::kNodePortIds).elements.begin()->second.data = huge;
  APPLY_OK(second.dataplane, builder_.Build(), false);
  const NftTableDump after = Dump(*second.fake, IpFamily::kIPv4);
  EXPECT_NE(after.sets.at(nft::kServiceIds).elements.at(key).data, huge);
  for (const auto& [name, set] : after.sets) {
    for (const auto& [k, v] : set.elements) {
      EXPECT_EQ(k.find(huge), std::string::npos) << name;
      EXPECT_NE(v.data, huge) << name;
    }
  }
  Fixture fresh = Make();
  APPLY_OK(fresh.dataplane, builder_.Build(), true);
  EXPECT_EQ(Canonical(after), Canonical(Dump(*fresh.fake, IpFamily::kIPv4)));
}

TEST_F(NftDataplaneTest, FullSyncRepairsDrift) {
  Fixture f = Make();
  Web({Ep("10.1.0.2", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const auto want = Canonical(Dump(*f.fake, IpFamily::kIPv4));
  NftTableDump* t = f.fake->Table(IpFamily::kIPv4, nft::kTable);
  ASSERT_NE(t, nullptr);
  t->sets.at(nft::kServiceIds).elements.clear();                // someone deleted elements
  t->chains.at("services").rules.clear();                       // ... flushed a chain
  t->chains.erase("ep-7");                                      // ... deleted a chain
  t->sets.at(nft::kHairpin).elements["junk-key"] = NftValue{};  // ... added an element
  // A partial sync trusts its cache; the periodic full sync repairs.
  APPLY_OK(f.dataplane, builder_.Build(), true);
  EXPECT_EQ(Canonical(Dump(*f.fake, IpFamily::kIPv4)), want);
}

TEST_F(NftDataplaneTest, FullSyncRepairsThePerIdSetsElementByElementAndLeavesAffinityAlone) {
  Fixture f = Make();
  Web({Ep("10.1.0.2", 8080), Ep("10.1.0.3", 8080)});
  builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, "172.30.0.53"), {Ep("10.1.0.4", 53)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const auto want = Canonical(Dump(*f.fake, IpFamily::kIPv4));
  NftTableDump* t = f.fake->Table(IpFamily::kIPv4, nft::kTable);
  ASSERT_NE(t, nullptr);
  auto& two = t->sets.at("endpoints-2").elements;
  ASSERT_EQ(two.size(), 2u);
  two.begin()->second.data = NftEndpointData(Ip("10.9.9.9"), 1);  // a value changed
  t->sets.at("endpoints-1").elements.clear();                     // an element deleted
  t->sets.at(nft::kEndpointSets).elements[NftU32(0x7000)] =
      NftValue{NftU32(1), false, 0, ""};  // added
  // An entry the packet path wrote: not kpx's to diff, and not even read by a full sync.
  const std::string client = NftU32(8) + std::string("\x0a\x01\x00\x63", 4);
  t->sets.at(nft::kAffinity).elements[client] =
      NftValue{NftEndpointData(Ip("10.1.0.2"), 8080), false, 0, ""};
  const uint64_t written = f.dataplane->counters().elements_written;
  APPLY_OK(f.dataplane, builder_.Build(), true);
  // Exactly the drift: the changed value deleted and added, the stray deleted, the lost added.
  EXPECT_EQ(f.dataplane->counters().elements_written, written + 4);
  NftTableDump after = Dump(*f.fake, IpFamily::kIPv4);
  EXPECT_EQ(after.sets.at(nft::kAffinity).elements.erase(client), 1u);
  EXPECT_EQ(Canonical(after), want);
}

// A kernel that lists every element of a set twice (as libnftnl's element iterator once did).
class ListingTwiceHandle : public FakeNftHandle {
 public:
  using FakeNftHandle::FakeNftHandle;
  Status DumpElements(IpFamily family, const std::string& table, const std::string& set,
                      const ElementVisitor& each) override {
    if (Status st = FakeNftHandle::DumpElements(family, table, set, each); !st.ok()) return st;
    return FakeNftHandle::DumpElements(family, table, set, each);
  }
};

TEST_F(NftDataplaneTest, AnElementListedTwiceIsDiffedOnce) {
  Fixture first = Make();
  Web({Ep("10.1.0.2", 8080), Ep("10.1.0.3", 8080)});
  APPLY_OK(first.dataplane, builder_.Build(), false);
  const auto want = Canonical(Dump(*first.fake, IpFamily::kIPv4));
  NftTableDump* t = first.fake->Table(IpFamily::kIPv4, nft::kTable);
  ASSERT_NE(t, nullptr);
  // Strays in a per-id set and in a shared one: each must be deleted once (a second delete of
  // a missing element fails the transaction).
  t->sets.at(nft::kEndpointSets).elements[NftU32(0x7000)] = NftValue{NftU32(1), false, 0, ""};
  t->sets.at(nft::kHairpin).elements[std::string(8, '\x01')] = NftValue{};
  Fixture second = Make(std::make_unique<ListingTwiceHandle>(first.fake->tables()));
  APPLY_OK(second.dataplane, builder_.Build(), false);
  EXPECT_EQ(second.fake->commits(), 1u);
  EXPECT_EQ(second.dataplane->counters().elements_written, 2u);
  EXPECT_EQ(Canonical(Dump(*second.fake, IpFamily::kIPv4)), want);
}

TEST_F(NftDataplaneTest, AKeyTwoServicesClaimGoesToTheFirstByNameAndPassesOnWhenItLeaves) {
  // Both list 192.0.2.1:80 as an external IP; "default/b" is added first, "default/a" sorts
  // first and wins; when a goes (partial sync), b's value takes its place, and when a comes back
  // it wins again. A fresh full sync agrees every time.
  Fixture f = Make();
  auto add = [&](const std::string& name, const std::string& cip, const std::string& pod) {
    builder_.Add(Svc("default", name, "", Protocol::kTCP, 80, cip,
                     [](ServicePortInfo& s) {
                       s.external_ips = {Ip("192.0.2.1")};
                       s.external_policy = TrafficPolicy::kLocal;
                     }),
                 {Ep(pod, 8080, [](EndpointInfo& e) { e.is_local = true; })});
  };
  const std::string ext = NftServiceKey(Ip("192.0.2.1"), Protocol::kTCP, 80);
  auto id_of = [&](const std::string& cip) {
    const auto t = Dump(*f.fake, IpFamily::kIPv4);
    const auto& ids = t.sets.at(nft::kServiceIds).elements;
    EXPECT_EQ(ids.count(ext), 1u);
    // The ids without their policy codes (external for the external IP, internal for the
    // cluster IP).
    auto id = [](const NftValue& v) {
      uint32_t x = 0;
      std::memcpy(&x, v.data.data(), 4);
      return x & nft::kIdMask;
    };
    return std::make_pair(id(ids.at(ext)), id(ids.at(NftServiceKey(Ip(cip), Protocol::kTCP, 80))));
  };
  auto same_as_fresh = [&](const DesiredState& state) {
    Fixture fresh = Make();
    APPLY_OK(fresh.dataplane, state, true);
    EXPECT_EQ(Canonical(Dump(*f.fake, IpFamily::kIPv4)),
              Canonical(Dump(*fresh.fake, IpFamily::kIPv4)));
  };
  add("b", "172.30.0.12", "10.1.0.3");
  APPLY_OK(f.dataplane, builder_.Build(), false);
  add("a", "172.30.0.11", "10.1.0.2");
  DesiredState state = builder_.Build();
  APPLY_OK(f.dataplane, state, false);
  const uint64_t full_syncs = f.dataplane->counters().full_syncs;
  auto [ext_id, a_id] = id_of("172.30.0.11");
  EXPECT_EQ(ext_id, a_id);
  same_as_fresh(state);
  builder_.Remove(ServicePortName{"default", "a", "", Protocol::kTCP});
  state = builder_.Build();
  APPLY_OK(f.dataplane, state, false);
  auto [ext_id2, b_id] = id_of("172.30.0.12");
  EXPECT_EQ(ext_id2, b_id);
  same_as_fresh(state);
  add("a", "172.30.0.11", "10.1.0.2");
  state = builder_.Build();
  APPLY_OK(f.dataplane, state, false);
  auto [ext_id3, a_id3] = id_of("172.30.0.11");
  EXPECT_EQ(ext_id3, a_id3);
  same_as_fresh(state);
  EXPECT_EQ(f.dataplane->counters().full_syncs, full_syncs);  // all of it in partial syncs
}

TEST_F(NftDataplaneTest, FullSyncRewritesOnlyTheSharedElementsWhoseValueDrifted) {
  Fixture f = Make();
  Web({Ep("10.1.0.2", 8080)});
  for (int i = 0; i < 30; ++i) {
    builder_.Add(Svc("default", "s" + std::to_string(i), "", Protocol::kTCP, 80,
                     "172.30.2." + std::to_string(i + 1)),
                 {Ep("10.1.2." + std::to_string(i + 1), 80)});
  }
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const auto want = Canonical(Dump(*f.fake, IpFamily::kIPv4));
  NftTableDump* t = f.fake->Table(IpFamily::kIPv4, nft::kTable);
  ASSERT_NE(t, nullptr);
  const std::string key = NftServiceKey(Ip("172.30.2.7"), Protocol::kTCP, 80);
  ASSERT_EQ(t->sets.at(nft::kServiceIds).elements.count(key), 1u);
  std::string& value = t->sets.at(nft::kServiceIds).elements[key].data;
  value[0] = static_cast<char>(value[0] ^ nft::kPolicyExternalLocal);  // drifted: another policy
  const uint64_t written = f.dataplane->counters().elements_written;
  APPLY_OK(f.dataplane, builder_.Build(), true);
  EXPECT_EQ(Canonical(Dump(*f.fake, IpFamily::kIPv4)), want);
  EXPECT_EQ(f.dataplane->counters().elements_written, written + 2);  // delete + add, that one
}

TEST_F(NftDataplaneTest, FailedCommitMakesTheNextSyncFull) {
  Fixture f = Make();
  Web({Ep("10.1.0.2", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  Web({Ep("10.1.0.3", 8080)});
  f.fake->FailNextCommit("nftables: transaction refused; injected");
  const Status st = f.dataplane->Apply(builder_.Build(), false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("injected"), std::string::npos);
  // Nothing that worked was torn down.
  EXPECT_EQ(Dump(*f.fake, IpFamily::kIPv4).sets.at("endpoints-1").elements.begin()->second.data,
            NftEndpointData(Ip("10.1.0.2"), 8080));
  const uint64_t full = f.dataplane->counters().full_syncs;
  APPLY_OK(f.dataplane, builder_.Build(), false);
  EXPECT_GT(f.dataplane->counters().full_syncs, full);
  EXPECT_EQ(Dump(*f.fake, IpFamily::kIPv4).sets.at("endpoints-1").elements.begin()->second.data,
            NftEndpointData(Ip("10.1.0.3"), 8080));
}

TEST_F(NftDataplaneTest, CleanupRemovesOnlyKpxTables) {
  Fixture f = Make();
  Web({Ep("10.1.0.2", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  NftBatch other(1);
  other.AddTable(IpFamily::kIPv4, "someone-else");
  ASSERT_TRUE(f.fake->Commit(other).ok());
  ASSERT_TRUE(f.dataplane->Cleanup().ok());
  EXPECT_FALSE(Dump(*f.fake, IpFamily::kIPv4).exists);
  EXPECT_FALSE(Dump(*f.fake, IpFamily::kIPv6).exists);
  EXPECT_TRUE(f.fake->Dump(IpFamily::kIPv4, "someone-else")->exists);
}

TEST_F(NftDataplaneTest, KubeProxyTablesAreRemovedAtStart) {
  Fixture f = Make();
  NftBatch kube(1);
  kube.AddTable(IpFamily::kIPv4, "kube-proxy");
  kube.AddTable(IpFamily::kIPv6, "kube-proxy");
  ASSERT_TRUE(f.fake->Commit(kube).ok());
  Web({Ep("10.1.0.2", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  EXPECT_FALSE(f.fake->Dump(IpFamily::kIPv4, "kube-proxy")->exists);
  EXPECT_FALSE(f.fake->Dump(IpFamily::kIPv6, "kube-proxy")->exists);
}

TEST_F(NftDataplaneTest, LargeFullSyncsAreSplitIntoBoundedTransactions) {
  AddManyServices();
  const DesiredState state = builder_.Build();
  Fixture one = Make();
  APPLY_OK(one.dataplane, state, false);
  NftOptions small = Options();
  small.max_batch_bytes = 16 * 1024;
  auto fake = std::make_unique<FakeNftHandle>();
  FakeNftHandle* raw = fake.get();
  NftDataplane split(small, std::move(fake), nullptr);
  APPLY_OK(&split, state, false);
  EXPECT_GE(raw->commits(), one.fake->commits() + 3);
  EXPECT_EQ(Canonical(Dump(*raw, IpFamily::kIPv4)), Canonical(Dump(*one.fake, IpFamily::kIPv4)));
}

TEST_F(NftDataplaneTest, AColdSyncStreamedInSmallBatchesThatFailsHalfwayIsCompletedByTheNext) {
  // A cold start streams the per-id elements in bounded batches before the rest of the table
  // exists; when a transaction in the middle fails, the next full sync finds a partial table and
  // diffs against it.
  AddManyServices(/*twice=*/true,
                  [](int i, ServicePortInfo& s) { s.session_affinity_client_ip = i % 3 == 0; });
  const DesiredState state = builder_.Build();
  Fixture one = Make();
  APPLY_OK(one.dataplane, state, false);
  NftOptions small = Options();
  small.max_batch_bytes = 16 * 1024;
  auto fake = std::make_unique<FakeNftHandle>();
  FakeNftHandle* raw = fake.get();
  NftDataplane split(small, std::move(fake), nullptr);
  raw->AfterCommit([&] {
    if (raw->commits() == 3) raw->FailNextCommit("nftables: transaction refused; injected");
  });
  ASSERT_FALSE(split.Apply(state, false).ok());
  const NftTableDump* partial = raw->Table(IpFamily::kIPv4, nft::kTable);
  ASSERT_NE(partial, nullptr) << "the first transactions stand";
  EXPECT_FALSE(partial->chains.contains("nat-prerouting")) << "base chains come last";
  APPLY_OK(&split, state, false);
  EXPECT_EQ(Canonical(Dump(*raw, IpFamily::kIPv4)), Canonical(Dump(*one.fake, IpFamily::kIPv4)));
  // Sizes declared from the bounds hold what the sets hold.
  for (const auto& [name, set] : Dump(*raw, IpFamily::kIPv4).sets) {
    if (set.spec.size != 0) {
      EXPECT_LE(set.elements.size(), set.spec.size) << name;
    }
  }
}

TEST_F(NftDataplaneTest, AConcurrentWriterBetweenDumpAndCommitIsDetected) {
  auto fake = std::make_unique<FakeNftHandle>();
  FakeNftHandle* raw = fake.get();
  NftDataplane dp(Options(), std::move(fake), nullptr);
  Web({Ep("10.1.0.2", 8080)});
  // Someone commits right after kpx's dump of the IPv4 table.
  bool once = true;
  raw->AfterDump([&](IpFamily family, const std::string& table) {
    if (!once || family != IpFamily::kIPv4 || table != nft::kTable) return;
    once = false;
    NftBatch other(1);
    other.AddTable(IpFamily::kIPv4, "someone-else");
    ASSERT_TRUE(raw->Commit(other).ok());
  });
  const DesiredState state = builder_.Build();
  const Status st = dp.Apply(state, false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("changed since kpx read it"), std::string::npos) << st.message();
  // The next sync dumps again and goes through.
  APPLY_OK(&dp, state, false);
  EXPECT_TRUE(raw->Dump(IpFamily::kIPv4, nft::kTable)->exists);
}

TEST_F(NftDataplaneTest, MetricsDescribeObjectsBatchesAndFailures) {
  Fixture f = Make();
  Web({LocalEp("10.1.0.2", 8080), LocalEp("10.1.0.3", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  Web({LocalEp("10.1.0.2", 8080)});
  f.fake->FailNextCommit("injected");
  EXPECT_FALSE(f.dataplane->Apply(builder_.Build(), false).ok());
  MetricsRegistry metrics;
  f.dataplane->RecordMetrics(metrics);
  const std::string text = metrics.Render();
  const size_t chains = BuildNftLayout(IpFamily::kIPv4, Options(), NodeState{}).chains.size();
  EXPECT_NE(text.find("kpx_nftables_chains{family=\"ipv4\"} " + std::to_string(chains)),
            std::string::npos)
      << text;
  // Two endpoints on this node: endpoint-sets, 2 endpoints, 2 hairpin, service-ids,
  // nodeport-ids, plus the table's own 4 policies and 86 endpoint chain codes = 97 elements
  // (the Local set is not written: no policy is Local).
  EXPECT_NE(text.find("kpx_nftables_elements{family=\"ipv4\"} 97"), std::string::npos) << text;
  EXPECT_NE(text.find("kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kpx_nftables_transactions_total"), std::string::npos);
}

// A conntrack cleanup the kernel refuses does not fail the sync (the rules are in place); it is
// counted and exported under the names the other modes use.
TEST_F(NftDataplaneTest, ConntrackFailuresAreCountedAndExported) {
  auto conntrack = std::make_unique<FakeConntrack>();
  FakeConntrack* ct = conntrack.get();
  NftDataplane dp(Options(), std::make_unique<FakeNftHandle>(), std::move(conntrack));
  builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, "172.30.0.53"),
               {Ep("10.1.0.4", 53), Ep("10.1.0.5", 53)});
  APPLY_OK(&dp, builder_.Build(), false);  // first endpoints: one filter for the ClusterIP
  ct->Clear();
  ct->Fail("refused");
  builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, "172.30.0.53"), {Ep("10.1.0.5", 53)});
  APPLY_OK(&dp, builder_.Build(), false);
  EXPECT_EQ(ct->deleted().size(), 1u) << "orig-dst 172.30.0.53, dst-nat 10.1.0.4";
  EXPECT_EQ(dp.counters().conntrack_failures, 1u);
  MetricsRegistry metrics;
  dp.RecordMetrics(metrics);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("kpx_conntrack_failures_total 1"), std::string::npos) << text;
  // Entries, not filters: one from the first sync's call; the refused call deleted none.
  EXPECT_NE(text.find("kpx_conntrack_entries_deleted_total 1"), std::string::npos) << text;
}

// Differential: random change sequences applied with partial syncs leave the fake kernel in the
// state a fresh dataplane's full sync of the same snapshot produces (up to id assignment).
// 300 steps in the main stage, 75 under a sanitizer.
constexpr int kDifferentialSteps = SanitizerRounds(300);

TEST_F(NftDataplaneTest, IncrementalEqualsFreshFullSyncOnRandomChanges) {
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  // Tight sets, so that partial syncs raise set sizes along the way (the fake refuses an
  // element past a set's size, as the kernel does).
  Fixture inc = Make(std::make_unique<FakeNftHandle>(), TightSets());
  const std::vector<std::string> pods = {"10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5",
                                         "10.1.0.6", "fd01::2",  "fd01::3"};
  for (int step = 0; step < kDifferentialSteps; ++step) {
    const int changes = 1 + pick(3);
    for (int c = 0; c < changes; ++c) {
      const int svc = pick(8);
      const std::string name = "svc" + std::to_string(svc);
      const Protocol proto = svc % 3 == 0 ? Protocol::kUDP : Protocol::kTCP;
      if (pick(6) == 0) {
        builder_.Remove(ServicePortName{"default", name, "", proto});
        continue;
      }
      std::vector<EndpointInfo> eps;
      // Mostly a handful of endpoints; now and then a set large enough to move between the
      // endpoints maps (up to the slot tables, above 32 distinct endpoints).
      const bool large = pick(8) == 0;
      const int n = large ? 5 + pick(36) : pick(5);
      for (int i = 0; i < n; ++i) {
        eps.push_back(Ep(pods[static_cast<size_t>(pick(static_cast<int>(pods.size())))],
                         large ? 9000 + i : 8000 + pick(3), [&](EndpointInfo& e) {
                           e.is_local = pick(2) == 0;
                           if (pick(5) == 0) {
                             e.ready = false;
                             e.serving = true;
                             e.terminating = true;
                           }
                         }));
      }
      const int variant = pick(6);
      builder_.Add(
          Svc("default", name, "", proto, 80 + svc % 2,
              "172.30.0." + std::to_string(10 + svc) + ",fd00::" + std::to_string(10 + svc),
              [&](ServicePortInfo& s) {
                if (variant >= 2) s.node_port = 30000 + svc;
                if (variant == 3) s.external_policy = TrafficPolicy::kLocal;
                if (variant == 4) s.internal_policy = TrafficPolicy::kLocal;
                if (variant == 5) s.external_ips = {Ip("192.0.2." + std::to_string(svc))};
                if (variant == 1) {
                  s.load_balancer_ips = {Ip("198.51.100." + std::to_string(svc))};
                  if (pick(2) == 0) {
                    s.load_balancer_source_ranges = {
                        Net("10.1.0.0/" + std::to_string(16 + pick(9))), Net("192.168.0.0/24")};
                  }
                }
                if (pick(3) == 0) {
                  s.session_affinity_client_ip = true;
                  s.session_affinity_timeout_seconds = 10 * (1 + pick(3));
                }
              }),
          eps);
    }
    const DesiredState state = builder_.Build();
    const Status st = inc.dataplane->Apply(state, false);
    ASSERT_TRUE(st.ok()) << "step " << step << ": " << st.message();
    Fixture fresh = Make();
    APPLY_OK(fresh.dataplane, state, true);
    for (IpFamily fam : {IpFamily::kIPv4, IpFamily::kIPv6}) {
      ASSERT_EQ(Canonical(Dump(*inc.fake, fam)), Canonical(Dump(*fresh.fake, fam)))
          << "step " << step << " family " << static_cast<int>(fam);
    }
  }
  EXPECT_GT(inc.dataplane->counters().partial_syncs, kDifferentialSteps * 5u / 6u);
  EXPECT_GT(inc.dataplane->counters().set_size_raises, 0u);
}

// Adds `n` ClusterIP services web0..web<n-1> with two endpoints each.
void AddServices(StateBuilderForTest& b, int first, int n) {
  for (int i = first; i < first + n; ++i) {
    b.Add(
        Svc("default", "web" + std::to_string(i), "", Protocol::kTCP, 80,
            "172.30.1." + std::to_string(i + 1)),
        {Ep("10.1.1." + std::to_string(i + 1), 8080), Ep("10.1.2." + std::to_string(i + 1), 8080)});
  }
}

// Whether some table of `tables` (kpx's or the shadow) dispatches `key` of service-ids to a
// service whose endpoints are all there: what a new connection needs.
bool Dispatched(const FakeNftHandle::Tables& tables, const std::string& key) {
  for (const char* name : {nft::kTable, nft::kShadowTable}) {
    auto t = tables.find({IpFamily::kIPv4, name});
    if (t == tables.end()) continue;
    const auto& sets = t->second.sets;
    auto ids = sets.find(nft::kServiceIds);
    if (ids == sets.end()) continue;
    auto e = ids->second.elements.find(key);
    if (e == ids->second.elements.end()) continue;
    uint32_t id = 0;
    std::memcpy(&id, e->second.data.data(), 4);
    auto code =
        sets.at(nft::kEndpointSets)
            .elements.find(std::string(reinterpret_cast<const char*>(&(id &= nft::kIdMask)), 4));
    if (code == sets.at(nft::kEndpointSets).elements.end()) continue;
    size_t endpoints = 0;
    for (const auto& [set, s] : sets) {
      if (!nft::IsEndpointMap(set)) continue;
      for (const auto& [k, v] : s.elements) endpoints += k.compare(0, 4, code->first) == 0;
    }
    if (endpoints == 2) return true;
  }
  return false;
}

// What an older kpx's layout left in a table: a map this layout no longer has.
void AddOlderLayoutsMap(NftTableDump& table) {
  table.sets["service-ips"].spec = NftSetSpec{"service-ips", NFT_SET_MAP, 0, 12, 0, 4};
}

TEST_F(NftDataplaneTest, ALayoutChangeIsBuiltInAShadowTableSoNoServiceIsEverMissing) {
  for (int i = 0; i < 200; ++i) {
    builder_.Add(Svc("default", "s" + std::to_string(i), "", Protocol::kTCP, 80,
                     "172.30." + std::to_string(1 + i / 200) + "." + std::to_string(i % 200 + 1)),
                 {Ep("10.1.1." + std::to_string(i % 200 + 1), 80), Ep("10.1.2.1", 80)});
  }
  const DesiredState state = builder_.Build();
  NftOptions small = Options();
  small.max_batch_bytes = 8 * 1024;  // many transactions, as a large cluster takes
  Fixture old = Make(std::make_unique<FakeNftHandle>(), small);
  APPLY_OK(old.dataplane, state, false);
  NftTableDump* table = old.fake->Table(IpFamily::kIPv4, nft::kTable);
  ASSERT_NE(table, nullptr);
  AddOlderLayoutsMap(*table);
  std::vector<std::string> keys;
  for (const auto& [key, v] : table->sets.at(nft::kServiceIds).elements) keys.push_back(key);
  ASSERT_EQ(keys.size(), 200u);

  auto fake = std::make_unique<FakeNftHandle>(old.fake->tables());
  FakeNftHandle* raw = fake.get();
  size_t checked = 0;
  std::string missing;
  raw->AfterCommit([&] {
    ++checked;
    for (const auto& key : keys) {
      if (!Dispatched(*raw->tables(), key) && missing.empty()) {
        missing =
            NftValue{key, false, 0, ""}.ToString() + " after commit " + std::to_string(checked);
      }
    }
  });
  Fixture upgraded = Make(std::move(fake), small);
  APPLY_OK(upgraded.dataplane, state, false);
  EXPECT_EQ(missing, "") << "a service without dispatch between two transactions";
  EXPECT_GE(checked, 6u) << "each table written in several transactions";
  EXPECT_EQ(raw->Table(IpFamily::kIPv4, nft::kShadowTable), nullptr) << "the shadow is gone";
  const NftTableDump after = Dump(*raw, IpFamily::kIPv4);
  EXPECT_FALSE(after.sets.contains("service-ips"));
  Fixture fresh = Make();
  APPLY_OK(fresh.dataplane, state, false);
  EXPECT_EQ(Canonical(after), Canonical(Dump(*fresh.fake, IpFamily::kIPv4)));
}

TEST_F(NftDataplaneTest, ARebuildThatFailsHalfwayResumesWithoutLosingAService) {
  for (int i = 0; i < 200; ++i) {
    builder_.Add(Svc("default", "s" + std::to_string(i), "", Protocol::kTCP, 80,
                     "172.30.1." + std::to_string(i + 1)),
                 {Ep("10.1.1." + std::to_string(i % 200 + 1), 80), Ep("10.1.2.1", 80)});
  }
  const DesiredState state = builder_.Build();
  NftOptions small = Options();
  small.max_batch_bytes = 8 * 1024;
  Fixture old = Make(std::make_unique<FakeNftHandle>(), small);
  APPLY_OK(old.dataplane, state, false);
  NftTableDump* table = old.fake->Table(IpFamily::kIPv4, nft::kTable);
  AddOlderLayoutsMap(*table);
  std::vector<std::string> keys;
  for (const auto& [key, v] : table->sets.at(nft::kServiceIds).elements) keys.push_back(key);

  const auto tables = old.fake->tables();
  std::string missing;
  auto check = [&] {
    for (const auto& key : keys) {
      if (!Dispatched(*tables, key) && missing.empty()) {
        missing = NftValue{key, false, 0, ""}.ToString();
      }
    }
  };
  // The rebuild fails once, in the shadow's write (after 2 commits), or in kpx's own (after 6),
  // and the next sync finishes it; the older layout is put back between the two rounds.
  for (const size_t fail_after : {2u, 6u}) {
    Fixture upgraded = Make(std::make_unique<FakeNftHandle>(tables), small);
    size_t commits = 0;
    upgraded.fake->AfterCommit([&] {
      check();
      if (++commits == fail_after) upgraded.fake->FailNextCommit("ENOMEM");
    });
    EXPECT_FALSE(upgraded.dataplane->Apply(state, false).ok());
    EXPECT_EQ(commits, fail_after);
    APPLY_OK(upgraded.dataplane, state, false);
    EXPECT_EQ(missing, "") << "failed after commit " << fail_after;
    EXPECT_EQ(upgraded.fake->Table(IpFamily::kIPv4, nft::kShadowTable), nullptr);
    Fixture fresh = Make();
    APPLY_OK(fresh.dataplane, state, false);
    EXPECT_EQ(Canonical(Dump(*upgraded.fake, IpFamily::kIPv4)),
              Canonical(Dump(*fresh.fake, IpFamily::kIPv4)));
    table = upgraded.fake->Table(IpFamily::kIPv4, nft::kTable);
    AddOlderLayoutsMap(*table);
  }
}

TEST_F(NftDataplaneTest, AShadowTableLeftByAnInterruptedRebuildIsRemoved) {
  Fixture f = Make();
  NftBatch leftover(1);
  leftover.AddTable(IpFamily::kIPv4, nft::kShadowTable);
  ASSERT_TRUE(f.fake->Commit(leftover).ok());
  Web({Ep("10.1.0.2", 8080)});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  EXPECT_EQ(f.fake->Table(IpFamily::kIPv4, nft::kShadowTable), nullptr);
  ASSERT_TRUE(f.fake->Commit(leftover).ok());
  ASSERT_TRUE(f.dataplane->Cleanup().ok());
  EXPECT_TRUE(f.fake->tables()->empty()) << "cleanup removes the shadow too";
}

TEST_F(NftDataplaneTest, GrowingSetsAreDeclaredWithRoomForTheirElements) {
  Fixture f = Make();
  AddServices(builder_, 0, 3);
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const NftTableDump t = Dump(*f.fake, IpFamily::kIPv4);
  const NftSetSpec& ids = t.sets.at(nft::kServiceIds).spec;
  EXPECT_EQ(ids.size, NftSetCapacity(3, Options().min_set_size));
  EXPECT_TRUE(ids.flags & NFT_SET_TIMEOUT) << "the flag that selects the resizable hash";
  const NftSetSpec& endpoints = t.sets.at(nft::EndpointChainFor(2, false).map).spec;
  EXPECT_EQ(endpoints.size, NftSetCapacity(6, Options().min_set_size));
  // Sets of a fixed size, and the one the packet path fills, keep theirs.
  EXPECT_EQ(t.sets.at(nft::kPolicies).spec.size, 0u);
  EXPECT_FALSE(t.sets.at(nft::kPolicies).spec.flags & NFT_SET_TIMEOUT);
  EXPECT_EQ(t.sets.at(nft::kAffinity).spec.size, nft::kAffinitySize);
  EXPECT_EQ(NftSetCapacity(1000, 256), 1000u + 250u + 256u);
}

TEST_F(NftDataplaneTest, APartialSyncRaisesASetBeforeAddingPastItsSize) {
  Fixture f = Make(std::make_unique<FakeNftHandle>(), TightSets());
  AddServices(builder_, 0, 1);
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const uint32_t before = Dump(*f.fake, IpFamily::kIPv4).sets.at(nft::kServiceIds).spec.size;
  ASSERT_EQ(before, NftSetCapacity(1, 1));
  const size_t commits = f.fake->commits();
  const uint64_t full_syncs = f.dataplane->counters().full_syncs;
  AddServices(builder_, 1, 6);
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const NftTableDump t = Dump(*f.fake, IpFamily::kIPv4);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).elements.size(), 7u);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).spec.size, NftSetCapacity(7, 1));
  EXPECT_EQ(t.sets.at(nft::kEndpointSets).spec.size, NftSetCapacity(7, 1));
  EXPECT_EQ(f.fake->commits(), commits + 2) << "the raise, then the elements";
  EXPECT_GE(f.dataplane->counters().set_size_raises, 3u);
  EXPECT_EQ(f.dataplane->counters().full_syncs, full_syncs) << "no resync";
  // Shrinking needs no raise, and growing back within the raised size neither.
  const uint64_t raises = f.dataplane->counters().set_size_raises;
  builder_.Remove(ServicePortName{"default", "web6", "", Protocol::kTCP});
  APPLY_OK(f.dataplane, builder_.Build(), false);
  AddServices(builder_, 6, 1);
  APPLY_OK(f.dataplane, builder_.Build(), false);
  EXPECT_EQ(f.dataplane->counters().set_size_raises, raises);
}

TEST_F(NftDataplaneTest, AKernelThatCannotRaiseSizesGetsUnsizedSets) {
  auto fake = std::make_unique<FakeNftHandle>();
  fake->SetSizesUpdate(false);
  NftOptions o = TightSets();
  o.set_sizes_update = false;
  Fixture f = Make(std::move(fake), o);
  AddServices(builder_, 0, 1);
  APPLY_OK(f.dataplane, builder_.Build(), false);
  AddServices(builder_, 1, 6);
  APPLY_OK(f.dataplane, builder_.Build(), false);
  const NftTableDump t = Dump(*f.fake, IpFamily::kIPv4);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).spec.size, 0u);
  EXPECT_FALSE(t.sets.at(nft::kServiceIds).spec.flags & NFT_SET_TIMEOUT);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).elements.size(), 7u);
  EXPECT_EQ(f.dataplane->counters().set_size_raises, 0u);
}

TEST_F(NftDataplaneTest, ARestartKeepsTheUnsizedSetsOfAnOlderTable) {
  // An older kpx (or one on an older kernel) wrote the table without sizes.
  NftOptions unsized = TightSets();
  unsized.set_sizes_update = false;
  Fixture old = Make(std::make_unique<FakeNftHandle>(), unsized);
  AddServices(builder_, 0, 2);
  APPLY_OK(old.dataplane, builder_.Build(), false);
  Fixture now = Make(std::make_unique<FakeNftHandle>(old.fake->tables()), TightSets());
  APPLY_OK(now.dataplane, builder_.Build(), false);
  EXPECT_EQ(now.fake->commits(), 0u) << "adopted as it is, not rebuilt";
  AddServices(builder_, 2, 8);
  APPLY_OK(now.dataplane, builder_.Build(), false);
  const NftTableDump t = Dump(*now.fake, IpFamily::kIPv4);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).spec.size, 0u);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).elements.size(), 10u);
  EXPECT_EQ(now.dataplane->counters().set_size_raises, 0u);
}

TEST_F(NftDataplaneTest, AFullSyncRaisesSetsThatOutgrewTheirSizeInsteadOfRebuilding) {
  Fixture first = Make(std::make_unique<FakeNftHandle>(), TightSets());
  AddServices(builder_, 0, 1);
  APPLY_OK(first.dataplane, builder_.Build(), false);
  // kpx restarts into a cluster that grew meanwhile.
  AddServices(builder_, 1, 9);
  Fixture second = Make(std::make_unique<FakeNftHandle>(first.fake->tables()), TightSets());
  APPLY_OK(second.dataplane, builder_.Build(), false);
  const NftTableDump t = Dump(*second.fake, IpFamily::kIPv4);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).elements.size(), 10u);
  EXPECT_EQ(t.sets.at(nft::kServiceIds).spec.size, NftSetCapacity(10, 1));
  EXPECT_GE(second.dataplane->counters().set_size_raises, 3u);
  Fixture fresh = Make(std::make_unique<FakeNftHandle>(), TightSets());
  APPLY_OK(fresh.dataplane, builder_.Build(), false);
  EXPECT_EQ(Canonical(t), Canonical(Dump(*fresh.fake, IpFamily::kIPv4)));
  // Raised, not rebuilt: the first service's elements were not written again.
  EXPECT_LT(second.dataplane->counters().elements_written,
            fresh.dataplane->counters().elements_written);
}

}  // namespace
}  // namespace kpx
