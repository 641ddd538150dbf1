// The pure half of the nftables mode: the layout's size bounds, element encodings, and the exact
// netlink framing of a batch.
#include "proxier/nftables/nft_batch.h"

#include <gtest/gtest.h>
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "proxier/nftables/nft_elements.h"
#include "proxier/nftables/nft_layout.h"
#include "proxier/nftables/nft_rule_codec.h"
#include "tests/support/random_changes.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ip;
using testing::Net;

std::vector<const nlmsghdr*> Messages(const std::vector<uint8_t>& bytes) {
  std::vector<const nlmsghdr*> out;
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= bytes.size()) {
    const auto* h = reinterpret_cast<const nlmsghdr*>(bytes.data() + off);
    out.push_back(h);
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  EXPECT_EQ(off, bytes.size());
  return out;
}

TEST(NftLayoutTest, ObjectCountIsFixedAndBounded) {
  NftOptions o;
  o.cluster_cidrs = {Net("10.0.0.0/8"), Net("fd00::/64")};
  for (IpFamily f : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    const NftLayout l = BuildNftLayout(f, o, NodeState{});
    EXPECT_LE(l.chains.size(), 110u);
    // 13 maps plus 7 endpoints maps, split by set size only to keep the rules reading each few.
    EXPECT_LE(l.sets.size(), 20u);
    std::set<std::string> names;
    for (const auto& c : l.chains) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  }
  // --nodeport-addresses adds one set, nothing else.
  NftOptions restricted = o;
  restricted.node_port_addresses = {Net("10.1.0.0/16")};
  EXPECT_EQ(BuildNftLayout(IpFamily::kIPv4, restricted, NodeState{}).sets.size(),
            BuildNftLayout(IpFamily::kIPv4, o, NodeState{}).sets.size() + 1);
}

TEST(NftLayoutTest, EndpointChainsAreExactUpTo32ThenSlotTables) {
  EXPECT_EQ(nft::EndpointChainFor(1, false).name, "ep-1");
  EXPECT_EQ(nft::EndpointChainFor(32, true).name, "epl-32");
  EXPECT_EQ(nft::EndpointChainFor(32, false).slots, 32u);
  // 33 endpoints over 1024 slots: each gets 31 or 32 of them.
  EXPECT_EQ(nft::EndpointChainFor(33, false).name, "ep-slots-1024");
  EXPECT_EQ(nft::EndpointChainFor(1000, false).slots, 16384u);
  EXPECT_EQ(nft::EndpointChainFor(nft::kMaxEndpointsPerSet, false).slots, 1u << 20);
  // Every chain has its own code, and the table's endpoint-chains elements lead there.
  std::set<uint32_t> codes;
  std::set<std::string> names;
  for (const auto& c : nft::EndpointChains()) {
    EXPECT_TRUE(codes.insert(c.code).second) << c.name;
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_EQ(
        nft::EndpointChainFor(c.slots > nft::kMaxExactEndpoints ? c.slots / 16 : c.slots, c.local)
            .code,
        c.code);
  }
  EXPECT_EQ(codes.size(), 86u);
  size_t dispatched = 0;
  for (const auto& e : NodeElements(IpFamily::kIPv4, NftOptions{}, {})) {
    if (e.set != nft::kEndpointChains) continue;
    uint32_t code = 0;
    std::memcpy(&code, e.key.data(), 4);
    EXPECT_TRUE(codes.contains(code));
    EXPECT_TRUE(names.contains(e.value.chain));
    ++dispatched;
  }
  EXPECT_EQ(dispatched, 86u);
}

TEST(NftLayoutTest, EndpointMapsSplitBySetSize) {
  EXPECT_EQ(nft::EndpointChainFor(1, false).map, "endpoints-1");
  EXPECT_EQ(nft::EndpointChainFor(3, true).map, "endpoints-4");
  EXPECT_EQ(nft::EndpointChainFor(16, false).map, "endpoints-16");
  EXPECT_EQ(nft::EndpointChainFor(17, false).map, "endpoints-32");
  EXPECT_EQ(nft::EndpointChainFor(32, true).map, "endpoints-32");
  EXPECT_EQ(nft::EndpointChainFor(33, false).map, "endpoints-slots");
  EXPECT_EQ(nft::EndpointMaps().size(), 7u);
  // Each map is in the layout, and read by the rules of its endpoint chains only: no map is
  // read by more than 64 rules, and every endpoint chain reads its own.
  for (IpFamily f : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    const NftLayout l = BuildNftLayout(f, NftOptions{}, NodeState{});
    std::map<std::string, int> readers;
    for (const auto& c : l.chains) {
      for (const auto& r : c.rules) {
        for (const auto& e : r) {
          if (e.name != "lookup") continue;
          for (const auto& [attr, v] : e.strs) {
            if (attr == NFTNL_EXPR_LOOKUP_SET && nft::IsEndpointMap(v)) ++readers[v];
          }
        }
      }
    }
    for (const auto& m : nft::EndpointMaps()) {
      EXPECT_TRUE(std::any_of(l.sets.begin(), l.sets.end(), [&](const NftSetSpec& s) {
        return s.name == m;
      })) << m;
      EXPECT_GT(readers[m], 0) << m;
      EXPECT_LE(readers[m], 64) << m;
    }
    EXPECT_EQ(readers["endpoints-16"], 32);
  }
}

TEST(NftElementsTest, KeysArePaddedConcatenations) {
  EXPECT_EQ(NftServiceKey(Ip("10.0.0.1"), Protocol::kTCP, 80),
            std::string("\x0a\x00\x00\x01\x06\x00\x00\x00\x00\x50\x00\x00", 12));
  EXPECT_EQ(NftNodePortKey(Protocol::kUDP, 30053),
            std::string("\x11\x00\x00\x00\x75\x65\x00\x00", 8));
  EXPECT_EQ(NftServiceKey(Ip("fd00::1"), Protocol::kSCTP, 1).size(), 24u);
  EXPECT_EQ(NftEndpointData(Ip("10.0.0.2"), 8080),
            std::string("\x0a\x00\x00\x02\x1f\x90\x00\x00", 8));
}

// The per-id sets and id maps ServicePortElements fills, counted from its output: every element
// it gives, and the distinct keys among them.
struct PerIdTally {
  std::map<std::string, size_t> given, distinct;
};
PerIdTally Tally(const std::vector<NftElement>& elements) {
  PerIdTally t;
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& e : elements) {
    if (!nft::IsEndpointMap(e.set) && e.set != nft::kEndpointSets &&
        e.set != nft::kAffinityEndpoints && e.set != nft::kAffinityTimeouts &&
        e.set != nft::kServiceIds && e.set != nft::kNodePortIds) {
      continue;
    }
    ++t.given[e.set];
    if (keys.emplace(e.set, e.key).second) ++t.distinct[e.set];
  }
  return t;
}
std::map<std::string, size_t> Counts(const ServicePortState& port, IpFamily family) {
  std::map<std::string, size_t> out;
  ServicePortIdElementCounts(port, family,
                             [&](std::string_view set, size_t n) { out[std::string(set)] += n; });
  return out;
}

TEST(NftElementsTest, IdElementCountsMatchTheElementsOnRandomPorts) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    testing::StateBuilderForTest builder("node-a");
    testing::RandomChanges::SetUpNode(builder);
    testing::RandomChanges changes(seed, 12);
    for (int step = 0; step < 300; ++step) {
      const std::string what = changes.Step(builder);
      const DesiredState state = builder.Build();
      for (const auto& [name, port] : state.services) {
        for (IpFamily f : {IpFamily::kIPv4, IpFamily::kIPv6}) {
          const auto elements = ServicePortElements(*port, f, 8, state.node.addresses);
          EXPECT_EQ(Counts(*port, f), Tally(elements).given)
              << "seed " << seed << " step " << step << " (" << what << ") " << name.ToString();
        }
      }
    }
  }
}

TEST(NftElementsTest, IdElementCountsBoundAPortThatListsAnEndpointTwice) {
  testing::StateBuilderForTest builder("node-a");
  builder.Add(testing::Svc("default", "web", "", Protocol::kTCP, 80, "172.30.0.10",
                           [](ServicePortInfo& s) { s.session_affinity_client_ip = true; }),
              {testing::Ep("10.1.0.2", 8080), testing::Ep("10.1.0.2", 8080),
               testing::Ep("10.1.0.3", 8080)});
  const DesiredState state = builder.Build();
  const ServicePortState& port = *state.services.begin()->second;
  const PerIdTally t = Tally(ServicePortElements(port, IpFamily::kIPv4, 8));
  const auto counts = Counts(port, IpFamily::kIPv4);
  EXPECT_EQ(counts, t.given);
  for (const auto& [set, n] : t.distinct) EXPECT_GE(counts.at(set), n) << set;
}

TEST(NftBatchTest, FramesMessagesAndAcksOnlyTheLast) {
  NftBatch b(100);
  b.AddTable(IpFamily::kIPv4, "kpx");
  b.AddSet(IpFamily::kIPv4, "kpx", NftSetSpec{"s", 0, 7, 4, 0, 0});
  const std::vector<uint8_t> bytes = b.Bytes();
  const auto msgs = Messages(bytes);
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(msgs[0]->nlmsg_seq, 100u);
  EXPECT_EQ(msgs[1]->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE);
  EXPECT_EQ(msgs[1]->nlmsg_seq, 101u);
  EXPECT_EQ(msgs[1]->nlmsg_flags & NLM_F_ACK, 0);
  EXPECT_EQ(msgs[2]->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSET);
  EXPECT_NE(msgs[2]->nlmsg_flags & NLM_F_ACK, 0);
  EXPECT_EQ(msgs[3]->nlmsg_type, NFNL_MSG_BATCH_END);
  EXPECT_EQ(msgs[3]->nlmsg_seq, b.end_seq());
  const auto* nfg = reinterpret_cast<const nfgenmsg*>(NLMSG_DATA(msgs[1]));
  EXPECT_EQ(nfg->nfgen_family, NFPROTO_IPV4);
  const std::string payload(reinterpret_cast<const char*>(msgs[1]), msgs[1]->nlmsg_len);
  EXPECT_NE(payload.find(std::string("kpx\0", 4)), std::string::npos);
  EXPECT_EQ(b.Describe(102), "add set kpx s");
  EXPECT_EQ(b.Describe(100), "batch framing");
}

// A rule that jumps to `chain`, with a counter ahead of it.
NftRuleSpec JumpRule(const std::string& chain) {
  NftExprSpec counter{"counter", {}, {}, {}, {}};
  NftExprSpec jump{"immediate",
                   {{NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT},
                    {NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(NFT_JUMP)}},
                   {},
                   {{NFTNL_EXPR_IMM_CHAIN, chain}},
                   {}};
  return {counter, jump};
}

TEST(NftBatchTest, ARuleIsNamedWithItsTextFromTheMessageAndBuiltTheSameAfterOthers) {
  NftBatch alone(10);
  alone.AddRule(IpFamily::kIPv4, "kpx", "services", JumpRule("svc-1"));
  // The same rule after a set and a longer rule: what those left in the buffer messages are
  // built in (padding included) never shows in the next one.
  NftBatch after(10);
  after.AddSet(IpFamily::kIPv4, "kpx", NftSetSpec{"a-set-with-a-long-name", 0, 7, 4, 0, 0});
  after.AddRule(IpFamily::kIPv4, "kpx", "services", JumpRule("svc-with-a-much-longer-name"));
  after.AddRule(IpFamily::kIPv4, "kpx", "services", JumpRule("svc-1"));
  // Messages() points into the bytes: they are kept for as long as the messages are read.
  const std::vector<uint8_t> alone_bytes = alone.Bytes();
  const std::vector<uint8_t> after_bytes = after.Bytes();
  const auto one = Messages(alone_bytes);
  const auto three = Messages(after_bytes);
  ASSERT_EQ(one.size(), 3u);
  ASSERT_EQ(three.size(), 5u);
  // Sequence numbers and the ACK flag differ by position; the rest must not.
  ASSERT_EQ(one[1]->nlmsg_len, three[3]->nlmsg_len);
  EXPECT_EQ(std::memcmp(NLMSG_DATA(one[1]), NLMSG_DATA(three[3]), one[1]->nlmsg_len - NLMSG_HDRLEN),
            0);
  const std::string text = NftRuleText(BuildNftRule("kpx", "services", JumpRule("svc-1")).get());
  EXPECT_NE(text.find("svc-1"), std::string::npos) << text;
  EXPECT_EQ(alone.Describe(11), "add rule kpx services: " + text);
  EXPECT_EQ(after.Describe(13), "add rule kpx services: " + text);
  EXPECT_EQ(after.Describe(11), "add set kpx a-set-with-a-long-name");
}

TEST(NftBatchTest, RequiredGenerationTravelsInTheBatchBegin) {
  NftBatch b(7);
  b.AddTable(IpFamily::kIPv4, "kpx");
  const std::vector<uint8_t> plain_bytes = b.Bytes();
  const auto plain = Messages(plain_bytes);
  b.RequireGeneration(0x01020304);
  const std::vector<uint8_t> bytes = b.Bytes();
  const auto msgs = Messages(bytes);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0]->nlmsg_len, plain[0]->nlmsg_len + 8);  // one u32 attribute
  const auto* attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(msgs[0]) +
                                                     NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)));
  EXPECT_EQ(attr->nla_type, NFNL_BATCH_GENID);
  const auto* v = reinterpret_cast<const uint8_t*>(attr) + NLA_HDRLEN;
  EXPECT_EQ(std::vector<uint8_t>(v, v + 4), (std::vector<uint8_t>{1, 2, 3, 4}));  // big endian
}

TEST(NftBatchTest, ElementsAreSplitIntoBoundedMessages) {
  std::vector<NftElement> elements;
  for (uint32_t i = 0; i < 1000; ++i) {
    elements.push_back({nft::kEndpointSets, NftU32(2 * i), NftValue{"", true, NFT_GOTO, "ep-1"}});
  }
  NftBatch b(1);
  b.AddElements(IpFamily::kIPv6, "kpx", nft::kEndpointSets, elements);
  EXPECT_EQ(b.message_count(), 2u);  // 512 + 488
  EXPECT_EQ(b.element_count(), 1000u);
  EXPECT_EQ(b.Describe(2), "add 512 element(s) of kpx endpoint-sets");
  EXPECT_EQ(b.Describe(3), "add 488 element(s) of kpx endpoint-sets");
}

TEST(NftBatchTest, ACompactListEncodesAsItsElementsDo) {
  std::vector<NftElement> elements;
  NftElementList list;
  for (uint32_t i = 0; i < 700; ++i) {
    NftValue v = i % 3 == 0   ? NftValue{"", true, NFT_GOTO, "ep-" + std::to_string(i % 5)}
                 : i % 3 == 1 ? NftValue{NftU32(i), false, 0, ""}
                              : NftValue{};
    elements.push_back({nft::kEndpointSets, NftU32(i), v});
    ASSERT_TRUE(list.Add(elements.back().key, v));
  }
  NftBatch whole(1), ranged(1), picked(1), by_element(1), picked_elements(1);
  by_element.AddElements(IpFamily::kIPv4, "kpx", nft::kEndpointSets, elements);
  whole.AddElements(IpFamily::kIPv4, "kpx", nft::kEndpointSets, list, 0, list.size());
  EXPECT_EQ(whole.Bytes(), by_element.Bytes());
  EXPECT_EQ(whole.element_count(), 700u);
  // A range past the end stops at it; written in two calls it is the same elements.
  ranged.AddElements(IpFamily::kIPv4, "kpx", nft::kEndpointSets, list, 0, 512);
  ranged.AddElements(IpFamily::kIPv4, "kpx", nft::kEndpointSets, list, 512, 5000);
  EXPECT_EQ(ranged.Bytes(), by_element.Bytes());
  // Positions, for adds and deletes.
  const std::vector<uint32_t> positions = {699, 3, 4, 0};
  std::vector<NftElement> chosen;
  for (uint32_t p : positions) chosen.push_back(elements[p]);
  picked.AddElements(IpFamily::kIPv6, "kpx", nft::kEndpointSets, list, positions);
  picked.DeleteElements(IpFamily::kIPv6, "kpx", nft::kEndpointSets, list, positions, true);
  picked_elements.AddElements(IpFamily::kIPv6, "kpx", nft::kEndpointSets, chosen);
  picked_elements.DeleteElements(IpFamily::kIPv6, "kpx", nft::kEndpointSets, chosen, true);
  EXPECT_EQ(picked.Bytes(), picked_elements.Bytes());
}

TEST(NftBatchTest, PartsGatherToTheBytesAndResetStartsOverInTheSameBuffer) {
  NftBatch b(10);
  b.Reserve(1 << 16);
  b.RequireGeneration(5);
  b.AddTable(IpFamily::kIPv4, "kpx");
  b.AddElements(
      IpFamily::kIPv4, "kpx", nft::kServiceIds,
      std::vector<NftElement>{{nft::kServiceIds, NftU32(1), NftValue{NftU32(8), false, 0, ""}}});
  std::vector<uint8_t> gathered = b.BeginBytes();
  gathered.insert(gathered.end(), b.Body().begin(), b.Body().end());
  const std::vector<uint8_t> end = b.EndBytes();
  gathered.insert(gathered.end(), end.begin(), end.end());
  EXPECT_EQ(gathered, b.Bytes());
  // The ACK request moves to each new last message; the body itself carries it.
  const auto msgs = Messages(gathered);
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[1]->nlmsg_flags & NLM_F_ACK, 0);
  EXPECT_NE(msgs[2]->nlmsg_flags & NLM_F_ACK, 0);

  const uint8_t* buffer = b.Body().data();
  b.Reset(20);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.element_count(), 0u);
  EXPECT_FALSE(b.required_generation());
  b.AddTable(IpFamily::kIPv6, "kpx");
  EXPECT_EQ(b.Body().data(), buffer) << "the reserved buffer is kept";
  NftBatch fresh(20);
  fresh.AddTable(IpFamily::kIPv6, "kpx");
  EXPECT_EQ(b.Bytes(), fresh.Bytes());
  EXPECT_EQ(b.Describe(21), fresh.Describe(21));
}

}  // namespace
}  // namespace kpx
