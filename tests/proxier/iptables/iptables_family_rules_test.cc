#include "proxier/iptables/iptables_family_rules.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proxier/iptables/chain_names.h"
#include "tests/support/random_changes.h"
#include "tests/support/sanitizers.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using ::testing::EndsWith;
using testing::Ep;
using ::testing::HasSubstr;
using testing::Ip;
using testing::Net;
using ::testing::Not;
using testing::RandomChanges;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: node 192.168.0.2, pods 10.0.0.0/8, services 172.30.0.0/16 (see RandomChanges for
// the randomized cases).
const ServicePortName kA{"ns1", "a", "", Protocol::kTCP};
const ServicePortName kB{"ns1", "b", "", Protocol::kTCP};

// A fresh full rendering of `state`, fingerprinted: what the incremental one must equal.
std::string Fresh(const IptablesRenderer& renderer, const DesiredState& state, IpFamily family) {
  IptablesFamilyRules fresh(renderer, family);
  fresh.Update(state, {}, IptablesFamilyRules::Mode::kFull, {}, {});
  return fresh.Fingerprint();
}

IptablesOptions Options() {
  IptablesOptions o;
  o.localhost_nodeports = true;
  o.cluster_cidrs = {Net("10.0.0.0/8"), Net("fd00:10::/64")};
  return o;
}

using Mode = IptablesFamilyRules::Mode;

class FamilyRulesTest : public ::testing::Test {
 protected:
  FamilyRulesTest() {
    builder_.Node([](NodeState& n) { n.addresses = {Ip("192.168.0.2")}; });
    AddA();
    builder_.Add(Svc("ns1", "b", "", Protocol::kTCP, 80, "172.30.0.2"), {Ep("10.180.0.2", 80)});
    const DesiredState s = builder_.Build();
    first_ = rules_.Update(s, {}, Mode::kFull, {}, {});
  }
  void AddA(std::vector<EndpointInfo> eps = {Ep("10.180.0.1", 80)}, int node_port = 0) {
    builder_.Add(Svc("ns1", "a", "", Protocol::kTCP, 80, "172.30.0.1",
                     [&](ServicePortInfo& i) { i.node_port = node_port; }),
                 eps);
  }
  IptablesFamilyRules::Output Partial() {
    state_ = builder_.Build();
    return rules_.Update(state_, {}, Mode::kPartial, {}, {});
  }

  IptablesRenderer renderer_{Options()};
  IptablesFamilyRules rules_{renderer_, IpFamily::kIPv4};
  StateBuilderForTest builder_{"node-a"};
  DesiredState state_;
  IptablesFamilyRules::Output first_;
};

TEST_F(FamilyRulesTest, FullUpdateIsAFreshRenderByteForByte) {
  EXPECT_TRUE(first_.full);
  EXPECT_EQ(first_.rerendered, 2u);
  EXPECT_EQ(first_.text, renderer_.Render(builder_.Build(), IpFamily::kIPv4, {}));
}

// A full update in pieces (for the libiptc runner) is the same input, its chain texts viewed
// where the renderer put them until FinishWrite frees them; the next sync is unaffected.
TEST_F(FamilyRulesTest, FullUpdateInPiecesIsTheSameInputViewingTheTexts) {
  IptablesFamilyRules rules(renderer_, IpFamily::kIPv4);
  IptablesFamilyRules::Output out = rules.Update(builder_.Build(), {}, Mode::kFull, {}, {}, true);
  EXPECT_TRUE(out.full);
  EXPECT_TRUE(out.text.empty());
  EXPECT_EQ(out.Text(), first_.text);
  EXPECT_EQ(out.size(), first_.text.size());
  // Owned lines and the chains' texts, one piece per owned chain (a's and b's SVC and SEP).
  // The filter section, nat's declarations and top-level chains; the 4 texts; the tail.
  EXPECT_EQ(out.pieces.pieces().size(), 1u + 4u + 1u);
  rules.FinishWrite();
  EXPECT_EQ(rules.Fingerprint(), rules_.Fingerprint());
  AddA({Ep("10.180.0.1", 80), Ep("10.180.0.3", 80)});
  state_ = builder_.Build();
  const auto partial = rules.Update(state_, {}, Mode::kPartial, {}, {}, true);
  EXPECT_TRUE(partial.pieces.empty()) << "a partial update is one text";
  EXPECT_EQ(partial.text, rules_.Update(state_, {}, Mode::kPartial, {}, {}).text);
}

// The fingerprint lists the owned chains (one digest line each) in the order a full write
// declares them: by name, as the x_tables table keeps them. It sorts them itself, while a full
// update takes the order its render sorted.
TEST_F(FamilyRulesTest, FingerprintListsOwnedChainsAsAFullWriteDoes) {
  std::vector<std::string> listed;
  std::istringstream fingerprint(rules_.Fingerprint());
  for (std::string line; std::getline(fingerprint, line);) {
    if (line.rfind("# ", 0) == 0) listed.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  ASSERT_EQ(listed.size(), 4u);  // a's and b's SVC and SEP chains
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  std::vector<std::string> declared;
  std::istringstream text(first_.text);
  for (std::string line; std::getline(text, line);) {
    if (line.empty() || line[0] != ':') continue;
    const std::string name = line.substr(1, line.find(' ') - 1);
    if (std::find(listed.begin(), listed.end(), name) != listed.end()) declared.push_back(name);
  }
  EXPECT_EQ(declared, listed);
}

TEST_F(FamilyRulesTest, EndpointChangeWritesOnlyThatServicesChains) {
  AddA({Ep("10.180.0.1", 80), Ep("10.180.0.3", 80)});
  const auto out = Partial();
  EXPECT_FALSE(out.full);
  EXPECT_EQ(out.rerendered, 1u);
  EXPECT_THAT(out.text, HasSubstr(":" + ServiceChain(kA) + " - [0:0]"));
  EXPECT_THAT(out.text, Not(HasSubstr(ServiceChain(kB))));
  // The dispatch rule did not change: no top-level chain, no filter table.
  EXPECT_THAT(out.text, Not(HasSubstr(":KUBE-SERVICES")));
  EXPECT_THAT(out.text, Not(HasSubstr("*filter")));
  EXPECT_EQ(rules_.Fingerprint(), Fresh(renderer_, state_, IpFamily::kIPv4));
}

TEST_F(FamilyRulesTest, DispatchChangeRewritesKubeServicesWithEveryService) {
  AddA({});  // no endpoints: REJECT in filter, no dispatch rule, its chains go
  const auto out = Partial();
  EXPECT_THAT(out.text, HasSubstr(":KUBE-SERVICES - [0:0]"));
  // Top-level chains are written whole, so b's dispatch rule is there though b did not change.
  EXPECT_THAT(out.text, HasSubstr("-j " + ServiceChain(kB) + "\n"));
  EXPECT_THAT(out.text, Not(HasSubstr(":" + ServiceChain(kB))));
  EXPECT_THAT(out.text, HasSubstr("ns1/a has no endpoints"));
  // a's old chains are flushed and deleted in the same restore.
  EXPECT_THAT(out.text, HasSubstr("-X " + ServiceChain(kA) + "\n"));
  EXPECT_THAT(out.text, EndsWith("COMMIT\n"));
  EXPECT_EQ(out.stale_chains, 2u);  // SVC and SEP
  EXPECT_EQ(rules_.Fingerprint(), Fresh(renderer_, state_, IpFamily::kIPv4));
}

TEST_F(FamilyRulesTest, WrittenChainsKeepOnlyTheirDigests) {
  // The fingerprint shows each owned chain as a digest of what was written for it...
  const std::string before = rules_.Fingerprint();
  const std::string sep = EndpointChain(kA, Ep("10.180.0.1", 80));
  EXPECT_THAT(before, HasSubstr("# " + sep + " 2 rules, digest "));
  EXPECT_THAT(before, Not(HasSubstr("-A " + sep)));
  // ...and a change that rewrites a chain changes its digest: a's service chain keeps its name
  // and its two rules, but now jumps to another endpoint's chain.
  auto line_of = [](const std::string& fingerprint, const std::string& chain) {
    const size_t at = fingerprint.find("# " + chain + " ");
    return at == std::string::npos ? std::string()
                                   : fingerprint.substr(at, fingerprint.find('\n', at) - at);
  };
  const std::string svc_before = line_of(before, ServiceChain(kA));
  EXPECT_THAT(svc_before, HasSubstr(" 2 rules, digest "));
  AddA({Ep("10.180.0.9", 80)});
  const auto out = Partial();
  EXPECT_THAT(out.text, HasSubstr(":" + ServiceChain(kA) + " - [0:0]"));
  const std::string after = rules_.Fingerprint();
  EXPECT_THAT(line_of(after, ServiceChain(kA)), HasSubstr(" 2 rules, digest "));
  EXPECT_NE(line_of(after, ServiceChain(kA)), svc_before);
  EXPECT_EQ(line_of(after, ServiceChain(kB)), line_of(before, ServiceChain(kB)));
  EXPECT_EQ(rules_.Fingerprint(), Fresh(renderer_, state_, IpFamily::kIPv4));
  EXPECT_EQ(OwnedChain::Digest("-A X -j Y\n"), OwnedChain::Digest("-A X -j Y\n"));
  EXPECT_NE(OwnedChain::Digest("-A X -j Y\n"), OwnedChain::Digest("-A X -j Z\n"));
}

TEST_F(FamilyRulesTest, NothingChangedIsDecidedFromTheChangeSet) {
  // Unchanged pointer: not even rendered.
  DesiredState same = builder_.Build();
  same.changed = {kA};
  auto out = rules_.Update(same, {}, Mode::kPartial, {}, {});
  EXPECT_EQ(out.rerendered, 0u);
  EXPECT_TRUE(out.text.empty());
  // New pointer, same rules: rendered, compared per fragment, nothing written.
  AddA();
  out = Partial();
  EXPECT_EQ(out.rerendered, 1u);
  EXPECT_TRUE(out.text.empty());
  // A service port of the other family only: nothing for this family to write.
  builder_.Add(Svc("ns1", "v6", "", Protocol::kTCP, 80, "fd00:172:30::1"), {Ep("fd00:10::1", 80)});
  out = Partial();
  EXPECT_TRUE(out.text.empty());
}

TEST_F(FamilyRulesTest, LargeClusterFlipRendersEverything) {
  IptablesOptions o = Options();
  o.large_cluster_endpoints_threshold = 2;
  IptablesRenderer renderer(o);
  IptablesFamilyRules rules(renderer, IpFamily::kIPv4);
  ASSERT_TRUE(rules.Update(builder_.Build(), {}, Mode::kFull, {}, {}).full);
  EXPECT_FALSE(rules.large_cluster());
  AddA({Ep("10.180.0.1", 80), Ep("10.180.0.3", 80)});  // 3 endpoints > 2
  const DesiredState s = builder_.Build();
  const auto out = rules.Update(s, {}, Mode::kPartial, {}, {});
  EXPECT_TRUE(out.full);
  EXPECT_TRUE(rules.large_cluster());
  // b did not change, but its endpoint chain lost its comment.
  EXPECT_THAT(out.text, HasSubstr("-A " + EndpointChain(kB, Ep("10.180.0.2", 80)) +
                                  " -s 10.180.0.2 -j KUBE-MARK-MASQ\n"));
  EXPECT_EQ(out.text, renderer.Render(s, IpFamily::kIPv4, {}));
}

// The differential test at the rendering level: after every step of random change sequences,
// the cached rendering equals a fresh full render of the same state.
TEST(FamilyRulesDifferential, IncrementalEqualsFreshRender) {
  for (DispatchMode dispatch : {DispatchMode::kLinear, DispatchMode::kPrefixTree}) {
    for (int threshold : {-1, 12}) {
      IptablesOptions o = Options();
      o.dispatch = dispatch;
      o.dispatch_leaf_size = 2;
      o.large_cluster_endpoints_threshold = threshold;
      const IptablesRenderer renderer(o);
      // 25 seeds in the main stage, 6 under a sanitizer.
      for (uint32_t seed = 1; seed <= static_cast<uint32_t>(SanitizerRounds(25)); ++seed) {
        RandomChanges changes(seed, 10);
        StateBuilderForTest builder("node-a");
        RandomChanges::SetUpNode(builder);
        IptablesFamilyRules v4(renderer, IpFamily::kIPv4), v6(renderer, IpFamily::kIPv6);
        std::string history;
        for (int step = 0; step < 60; ++step) {
          history += changes.Step(builder) + "; ";
          if (step % 3 != 2) continue;  // several changes per sync, too
          const DesiredState s = builder.Build();
          for (IptablesFamilyRules* rules : {&v4, &v6}) {
            const IpFamily f = rules == &v4 ? IpFamily::kIPv4 : IpFamily::kIPv6;
            rules->Update(s, {}, step == 2 ? Mode::kFull : Mode::kPartial, {}, {});
            ASSERT_EQ(rules->Fingerprint(), Fresh(renderer, s, f))
                << "seed " << seed << " family " << IpFamilyName(f) << " after " << history;
          }
        }
      }
    }
  }
}

// A full render shared with a helper thread, each thread writing its chains' texts apart, is the
// one a single thread writes: the same lines in the same order, as one text (the exec runners',
// whose writer frees both threads' texts as it goes) and as pieces (the libiptc runner's), and
// the same partial syncs after it.
// A port without a cluster IP of the family renders nothing there and gets no entry; gaining
// one (a single-stack Service made dual-stack) renders it in a partial update, losing it again
// removes its chains, each time as a fresh full render would.
TEST(FamilyRulesFamilies, PortsOfTheOtherFamilyHaveNoEntryUntilTheyJoin) {
  const IptablesRenderer renderer(Options());
  StateBuilderForTest builder("node-a");
  builder.Node([](NodeState& n) { n.addresses = {Ip("192.168.0.2"), Ip("fd00::2")}; });
  builder.Add(Svc("ns1", "a", "", Protocol::kTCP, 80, "172.30.0.1"),
              {Ep("10.180.0.1", 80), Ep("fd00:10::1", 80)});
  builder.Add(Svc("ns1", "b", "", Protocol::kTCP, 80, "172.30.0.2,fd00:30::2"),
              {Ep("10.180.0.2", 80), Ep("fd00:10::2", 80)});
  IptablesFamilyRules v6(renderer, IpFamily::kIPv6);
  DesiredState s = builder.Build();
  const IptablesFamilyRules::Output first = v6.Update(s, {}, Mode::kFull, {}, {});
  EXPECT_EQ(first.rerendered, 1u);  // b only
  EXPECT_EQ(first.text, renderer.Render(s, IpFamily::kIPv6, {}));
  EXPECT_THAT(first.text, Not(HasSubstr(ServiceChain(kA))));
  const size_t chains_with_b = v6.nat_chains();

  // a joins the family.
  builder.Add(Svc("ns1", "a", "", Protocol::kTCP, 80, "172.30.0.1,fd00:30::1"),
              {Ep("10.180.0.1", 80), Ep("fd00:10::1", 80)});
  s = builder.Build();
  const IptablesFamilyRules::Output joined = v6.Update(s, {}, Mode::kPartial, {}, {});
  EXPECT_EQ(joined.rerendered, 1u);
  EXPECT_THAT(joined.text, HasSubstr(ServiceChain(kA)));
  EXPECT_EQ(v6.Fingerprint(), Fresh(renderer, s, IpFamily::kIPv6));
  EXPECT_GT(v6.nat_chains(), chains_with_b);

  // An endpoint change of a port outside the family touches nothing there.
  builder.Add(Svc("ns1", "c", "", Protocol::kTCP, 80, "172.30.0.3"), {Ep("10.180.0.3", 80)});
  s = builder.Build();
  EXPECT_TRUE(v6.Update(s, {}, Mode::kPartial, {}, {}).empty());

  // And leaves it again: its chains go as stale ones.
  builder.Add(Svc("ns1", "a", "", Protocol::kTCP, 80, "172.30.0.1"),
              {Ep("10.180.0.1", 80), Ep("fd00:10::1", 80)});
  s = builder.Build();
  const IptablesFamilyRules::Output left = v6.Update(s, {}, Mode::kPartial, {}, {});
  EXPECT_GT(left.stale_chains, 0u);
  EXPECT_EQ(v6.Fingerprint(), Fresh(renderer, s, IpFamily::kIPv6));
  EXPECT_EQ(v6.nat_chains(), chains_with_b);
}

TEST(FamilyRulesSplitRender, HelperThreadWritesWhatOneThreadWrites) {
  const IptablesRenderer renderer(Options());
  for (bool pieces : {false, true}) {
    for (IpFamily f : {IpFamily::kIPv4, IpFamily::kIPv6}) {
      RandomChanges changes(7, 250);
      StateBuilderForTest builder("node-a");
      RandomChanges::SetUpNode(builder);
      for (int i = 0; i < 2000; ++i) changes.Step(builder);
      const DesiredState s = builder.Build();
      ASSERT_GT(s.services.size(), 150u);
      IptablesFamilyRules one(renderer, f, {.render_threads = 1, .split_from = 1});
      IptablesFamilyRules two(renderer, f, {.render_threads = 2, .split_from = 1});
      const IptablesFamilyRules::Output a = one.Update(s, {}, Mode::kFull, {}, {}, pieces);
      const IptablesFamilyRules::Output b = two.Update(s, {}, Mode::kFull, {}, {}, pieces);
      EXPECT_EQ(one.split_renders(), 0u);
      EXPECT_EQ(two.split_renders(), 1u);
      // Every port with a cluster IP of the family, and only those.
      const size_t in_family = static_cast<size_t>(
          std::count_if(s.services.begin(), s.services.end(),
                        [&](const auto& kv) { return kv.second->info.ClusterIp(f).has_value(); }));
      ASSERT_GT(in_family, 0u);
      EXPECT_EQ(b.rerendered, in_family);
      ASSERT_FALSE(a.empty());
      ASSERT_EQ(a.Text(), b.Text()) << IpFamilyName(f) << (pieces ? " pieces" : " text");
      EXPECT_EQ(a.Text(), renderer.Render(s, f, {}));
      one.FinishWrite();
      two.FinishWrite();
      EXPECT_EQ(one.Fingerprint(), two.Fingerprint());
      for (int step = 0; step < 6; ++step) {
        changes.Step(builder);
        const DesiredState n = builder.Build();
        ASSERT_EQ(one.Update(n, {}, Mode::kPartial, {}, {}).text,
                  two.Update(n, {}, Mode::kPartial, {}, {}).text)
            << IpFamilyName(f) << " step " << step;
      }
      EXPECT_EQ(two.split_renders(), 1u);  // partial syncs render on this thread
    }
  }
}

}  // namespace
}  // namespace kpx
