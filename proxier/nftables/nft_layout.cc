#include "proxier/nftables/nft_layout.h"

#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>

namespace kpx {

namespace {

// nft's datatype numbers, so `nft list` can print kpx's sets (the kernel ignores them).
constexpr uint32_t kTypeVerdict = 1;
constexpr uint32_t kTypeIpAddr = 7;
constexpr uint32_t kTypeIp6Addr = 8;
constexpr uint32_t kTypeInetProto = 12;
constexpr uint32_t kTypeInetService = 13;
constexpr uint32_t kTypeMark = 19;
constexpr uint32_t kTypeBits = 6;
constexpr uint32_t kRtnLocal = 2;  // RTN_LOCAL: fib's address type for a local address

uint32_t Concat(std::initializer_list<uint32_t> types) {
  uint32_t t = 0;
  for (uint32_t x : types) t = (t << kTypeBits) | x;
  return t;
}

// Registers. Keys are loaded from R(0) upward; the endpoint-set id goes to
// NFT_REG32_14 and the random index next to it in NFT_REG32_15, so (set id . index) is one
// lookup key.
// The kernel dumps a 32-bit register that starts a 128-bit one under the 128-bit name
// (NFT_REG32_04 as NFT_REG_2); kpx writes that same canonical form, so a dumped rule compares
// equal to the rule kpx would write.
constexpr uint32_t R(uint32_t word) {
  return word % 4 == 0 ? NFT_REG_1 + word / 4 : NFT_REG32_00 + word;
}
constexpr uint32_t kRegKey = R(0);
constexpr uint32_t kRegSetId = R(14);
constexpr uint32_t kRegIndex = R(15);

std::string U32Bytes(uint32_t host) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &host, 4);
  return s;
}

struct E {
  NftExprSpec s;
  explicit E(std::string name) { s.name = std::move(name); }
  E& U(uint16_t a, uint32_t v) {
    s.u32s.emplace_back(a, v);
    return *this;
  }
  E& L(uint16_t a, uint64_t v) {
    s.u64s.emplace_back(a, v);
    return *this;
  }
  E& S(uint16_t a, std::string v) {
    s.strs.emplace_back(a, std::move(v));
    return *this;
  }
  E& B(uint16_t a, std::string v) {
    s.bytes.emplace_back(a, std::move(v));
    return *this;
  }
  operator NftExprSpec() const { return s; }  // NOLINT: builder
};

NftExprSpec Payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
  return E("payload")
      .U(NFTNL_EXPR_PAYLOAD_DREG, dreg)
      .U(NFTNL_EXPR_PAYLOAD_BASE, base)
      .U(NFTNL_EXPR_PAYLOAD_OFFSET, offset)
      .U(NFTNL_EXPR_PAYLOAD_LEN, len);
}
NftExprSpec MetaLoad(uint32_t key, uint32_t dreg) {
  return E("meta").U(NFTNL_EXPR_META_KEY, key).U(NFTNL_EXPR_META_DREG, dreg);
}
NftExprSpec MetaSet(uint32_t key, uint32_t sreg) {
  return E("meta").U(NFTNL_EXPR_META_KEY, key).U(NFTNL_EXPR_META_SREG, sreg);
}
NftExprSpec Cmp(uint32_t op, uint32_t sreg, std::string data) {
  return E("cmp")
      .U(NFTNL_EXPR_CMP_SREG, sreg)
      .U(NFTNL_EXPR_CMP_OP, op)
      .B(NFTNL_EXPR_CMP_DATA, std::move(data));
}
NftExprSpec Bitwise(uint32_t reg, std::string mask, std::string x) {
  const auto len = static_cast<uint32_t>(mask.size());
  return E("bitwise")
      .U(NFTNL_EXPR_BITWISE_SREG, reg)
      .U(NFTNL_EXPR_BITWISE_DREG, reg)
      .U(NFTNL_EXPR_BITWISE_LEN, len)
      .B(NFTNL_EXPR_BITWISE_MASK, std::move(mask))
      .B(NFTNL_EXPR_BITWISE_XOR, std::move(x));
}
NftExprSpec Bitwise2(uint32_t sreg, uint32_t dreg, std::string mask, std::string x) {
  const auto len = static_cast<uint32_t>(mask.size());
  return E("bitwise")
      .U(NFTNL_EXPR_BITWISE_SREG, sreg)
      .U(NFTNL_EXPR_BITWISE_DREG, dreg)
      .U(NFTNL_EXPR_BITWISE_LEN, len)
      .B(NFTNL_EXPR_BITWISE_MASK, std::move(mask))
      .B(NFTNL_EXPR_BITWISE_XOR, std::move(x));
}
NftExprSpec Lookup(const std::string& set, uint32_t sreg, std::optional<uint32_t> dreg,
                   bool invert = false) {
  E e("lookup");
  e.U(NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg) e.U(NFTNL_EXPR_LOOKUP_DREG, *dreg);
  e.S(NFTNL_EXPR_LOOKUP_SET, set);
  // The kernel always reports the flags; write them always so dumps compare equal.
  e.U(NFTNL_EXPR_LOOKUP_FLAGS, invert ? static_cast<uint32_t>(NFT_LOOKUP_F_INV) : 0u);
  return e;
}
NftExprSpec Verdict(int32_t code, const std::string& chain = "") {
  E e("immediate");
  e.U(NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT).U(NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(code));
  if (!chain.empty()) e.S(NFTNL_EXPR_IMM_CHAIN, chain);
  return e;
}
NftExprSpec CtStateNew() {
  return E("ct").U(NFTNL_EXPR_CT_KEY, NFT_CT_STATE).U(NFTNL_EXPR_CT_DREG, R(0));
}
NftExprSpec FibAddrType(uint32_t flags, uint32_t dreg) {
  return E("fib")
      .U(NFTNL_EXPR_FIB_DREG, dreg)
      .U(NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE)
      .U(NFTNL_EXPR_FIB_FLAGS, flags);
}

struct FamilyFacts {
  uint32_t addr_offset_src;
  uint32_t addr_offset_dst;
  uint32_t addr_len;
  uint32_t addr_type;
  uint32_t nfproto;
};

FamilyFacts Facts(IpFamily f) {
  if (f == IpFamily::kIPv4) return {12, 16, 4, kTypeIpAddr, NFPROTO_IPV4};
  return {8, 24, 16, kTypeIp6Addr, NFPROTO_IPV6};
}

// "ct state new": the filter checks look at the first packet of a connection only.
std::vector<NftExprSpec> IfNew() {
  const std::string bit = U32Bytes(8u);  // NF_CT_STATE_BIT(IP_CT_NEW)
  return {CtStateNew(), Bitwise(R(0), bit, U32Bytes(0)), Cmp(NFT_CMP_NEQ, R(0), U32Bytes(0))};
}

NftRuleSpec Rule(std::initializer_list<std::vector<NftExprSpec>> parts) {
  NftRuleSpec r;
  for (const auto& p : parts) r.insert(r.end(), p.begin(), p.end());
  return r;
}

// daddr . l4proto . dport into consecutive registers from kRegKey.
std::vector<NftExprSpec> DaddrProtoPort(const FamilyFacts& ff) {
  const uint32_t words = ff.addr_len / 4;
  return {Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_dst, ff.addr_len, kRegKey),
          MetaLoad(NFT_META_L4PROTO, R(words)),
          Payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(words + 1))};
}
std::vector<NftExprSpec> ProtoPort() {
  return {MetaLoad(NFT_META_L4PROTO, kRegKey), Payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(1))};
}

// Node addresses that answer NodePorts: every local address but loopback, or the listed ones.
std::vector<NftExprSpec> NodePortDestination(IpFamily family, const NftOptions& o,
                                             const FamilyFacts& ff) {
  if (NftNodePortsRestricted(family, o)) {
    return {Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_dst, ff.addr_len, kRegKey),
            Lookup(nft::kNodePortIps, kRegKey, std::nullopt)};
  }
  std::vector<NftExprSpec> out = {FibAddrType(NFTA_FIB_F_DADDR, R(0)),
                                  Cmp(NFT_CMP_EQ, R(0), U32Bytes(kRtnLocal))};
  if (family == IpFamily::kIPv4) {
    out.push_back(Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_dst, 1, R(0)));
    out.push_back(Cmp(NFT_CMP_NEQ, R(0), std::string(1, '\x7f')));
  } else {
    std::string lo(16, '\0');
    lo[15] = 1;
    out.push_back(Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_dst, 16, R(0)));
    out.push_back(Cmp(NFT_CMP_NEQ, R(0), lo));
  }
  return out;
}

std::vector<NftExprSpec> MarkForMasquerade(uint32_t mark) {
  return {MetaLoad(NFT_META_MARK, R(0)), Bitwise(R(0), U32Bytes(~mark), U32Bytes(mark)),
          MetaSet(NFT_META_MARK, R(0))};
}

// The pod-traffic detector as a match on the source address or the input interface, or nothing
// when none is configured. `local` true matches pods, false matches everything else.
std::optional<std::vector<NftExprSpec>> SourceIsPod(IpFamily family, const NftOptions& o,
                                                    const NodeState& node, const FamilyFacts& ff,
                                                    bool local) {
  if (o.local_detect == NftLocalDetect::kBridgeInterface ||
      o.local_detect == NftLocalDetect::kInterfaceNamePrefix) {
    // The kernel compares only as many bytes as given: the name alone is a prefix match, the
    // name with its NUL an exact one. Locally generated packets have no input interface (an
    // empty name), so the node's own traffic is never pod traffic, as in kube-proxy.
    if (o.local_interface.empty() || o.local_interface.size() >= 16) return std::nullopt;
    std::string name = o.local_interface;
    if (o.local_detect == NftLocalDetect::kBridgeInterface) name.push_back('\0');
    return std::vector<NftExprSpec>{MetaLoad(NFT_META_IIFNAME, R(0)),
                                    Cmp(local ? NFT_CMP_EQ : NFT_CMP_NEQ, R(0), name)};
  }
  const std::vector<Cidr>* cidrs = nullptr;
  if (o.local_detect == NftLocalDetect::kClusterCidr) cidrs = &o.cluster_cidrs;
  if (o.local_detect == NftLocalDetect::kNodeCidr) cidrs = &node.pod_cidrs;
  if (cidrs == nullptr) return std::nullopt;
  for (const auto& c : *cidrs) {
    if (c.family() != family) continue;
    std::string mask(ff.addr_len, '\0');
    for (int i = 0; i < c.prefix_length(); ++i) mask[i / 8] |= static_cast<char>(0x80 >> (i % 8));
    std::string net(reinterpret_cast<const char*>(c.address().bytes().data()), ff.addr_len);
    return std::vector<NftExprSpec>{
        Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_src, ff.addr_len, R(0)),
        Bitwise(R(0), mask, std::string(ff.addr_len, '\0')),
        Cmp(local ? NFT_CMP_EQ : NFT_CMP_NEQ, R(0), net)};
  }
  return std::nullopt;
}

NftSetSpec Map(const std::string& name, uint32_t key_type, uint32_t key_len, uint32_t data_type,
               uint32_t data_len) {
  return NftSetSpec{name, NFT_SET_MAP, key_type, key_len, data_type, data_len};
}
NftSetSpec VerdictMap(const std::string& name, uint32_t key_type, uint32_t key_len) {
  return NftSetSpec{name, NFT_SET_MAP, key_type, key_len, NFT_DATA_VERDICT, 0};
}
// A set with an element (or a few) per service port or endpoint.
NftSetSpec Growing(NftSetSpec spec) {
  spec.grows = true;
  return spec;
}

}  // namespace

namespace nft {
namespace {
std::string EndpointMapFor(uint32_t slots) {
  if (slots > kMaxExactEndpoints) return std::string(kEndpointsPrefix) + "slots";
  return kEndpointsPrefix + std::to_string(std::bit_ceil(slots));
}
}  // namespace

namespace {
// One chain's description, built once for the table below.
EndpointChain MakeEndpointChain(uint32_t n, bool local) {
  const std::string prefix = local ? "epl-" : "ep-";
  // Codes: 1..32 exact, 33.. slot tables; Local chains the same plus 64.
  const uint32_t base = local ? 64 : 0;
  if (n <= kMaxExactEndpoints) {
    return {prefix + std::to_string(n), n, EndpointMapFor(n), base + n, local};
  }
  uint32_t bits = kMinSlotBits;
  while (bits < kMaxSlotBits && (1u << bits) < 16 * n) ++bits;
  return {prefix + "slots-" + std::to_string(1u << bits), 1u << bits, EndpointMapFor(1u << bits),
          base + kMaxExactEndpoints + 1 + bits - kMinSlotBits, local};
}
constexpr uint32_t kChainsPerKind = kMaxExactEndpoints + kMaxSlotBits - kMinSlotBits + 1;
}  // namespace

const EndpointChain& EndpointChainFor(uint32_t n, bool local) {
  // A lookup into EndpointChains(): every endpoint set of every sync asks, and building the
  // names there each time allocated three strings a set.
  uint32_t i = n - 1;
  if (n > kMaxExactEndpoints) {
    uint32_t bits = kMinSlotBits;
    while (bits < kMaxSlotBits && (1u << bits) < 16 * n) ++bits;
    i = kMaxExactEndpoints + bits - kMinSlotBits;
  }
  return EndpointChains()[(local ? kChainsPerKind : 0) + i];
}

const std::vector<EndpointChain>& EndpointChains() {
  static const std::vector<EndpointChain> chains = [] {
    std::vector<EndpointChain> out;
    for (bool local : {false, true}) {
      for (uint32_t n = 1; n <= kMaxExactEndpoints; ++n) {
        out.push_back(MakeEndpointChain(n, local));
      }
      for (uint32_t b = kMinSlotBits; b <= kMaxSlotBits; ++b) {
        out.push_back(MakeEndpointChain((1u << b) / 16, local));
      }
    }
    return out;
  }();
  return chains;
}

const std::vector<std::string>& EndpointMaps() {
  static const std::vector<std::string> maps = [] {
    std::vector<std::string> out;
    for (uint32_t s = 1; s <= kMaxExactEndpoints; s *= 2) out.push_back(EndpointMapFor(s));
    out.push_back(EndpointMapFor(1u << kMinSlotBits));
    return out;
  }();
  return maps;
}

bool IsEndpointMap(std::string_view set) { return set.starts_with(kEndpointsPrefix); }
}  // namespace nft

bool NftNodePortsRestricted(IpFamily family, const NftOptions& options) {
  if (options.node_port_addresses.empty()) return false;
  for (const auto& c : options.node_port_addresses) {
    if (c.family() == family && c.prefix_length() == 0) return false;
  }
  return true;
}

std::string NftAffinityChain(uint32_t timeout_seconds) {
  return "affinity-" + std::to_string(timeout_seconds);
}

uint32_t NftSetCapacity(size_t elements, uint32_t min_size) {
  const uint64_t c = static_cast<uint64_t>(elements) + elements / 4 + min_size;
  return static_cast<uint32_t>(std::min<uint64_t>(c, UINT32_MAX));
}

NftLayout BuildNftLayout(IpFamily family, const NftOptions& o, const NodeState& node,
                         const std::set<uint32_t>& affinity_timeouts) {
  const FamilyFacts ff = Facts(family);
  const uint32_t words = ff.addr_len / 4;
  NftLayout l;
  l.family = family;
  const uint32_t svc_key = Concat({ff.addr_type, kTypeInetProto, kTypeInetService});
  const uint32_t svc_len = ff.addr_len + 8;
  const uint32_t np_key = Concat({kTypeInetProto, kTypeInetService});
  l.sets = {
      Growing(Map(nft::kServiceIds, svc_key, svc_len, kTypeMark, 4)),
      Growing(Map(nft::kNodePortIds, np_key, 8, kTypeMark, 4)),
      VerdictMap(nft::kPolicies, kTypeMark, 4),
      Growing(Map(nft::kEndpointSets, kTypeMark, 4, kTypeMark, 4)),
      VerdictMap(nft::kEndpointChains, kTypeMark, 4),
      Growing(VerdictMap(nft::kNoEndpointServices, svc_key, svc_len)),
      Growing(VerdictMap(nft::kNoEndpointNodePorts, np_key, 8)),
      Growing(NftSetSpec{nft::kHairpin, 0, Concat({ff.addr_type, ff.addr_type}), 2 * ff.addr_len, 0,
                         0}),
      NftSetSpec{nft::kAffinity, NFT_SET_MAP | NFT_SET_TIMEOUT | NFT_SET_EVAL,
                 Concat({kTypeMark, ff.addr_type}), 4 + ff.addr_len,
                 Concat({ff.addr_type, kTypeInetService}), ff.addr_len + 4, nft::kAffinitySize},
      Growing(NftSetSpec{nft::kAffinityEndpoints, 0,
                         Concat({kTypeMark, ff.addr_type, kTypeInetService}), 4 + ff.addr_len + 4,
                         0, 0}),
      VerdictMap(nft::kAffinityTimeouts, kTypeMark, 4),
      Growing(NftSetSpec{nft::kFirewallIps, 0, svc_key, svc_len, 0, 0}),
      NftSetSpec{nft::kFirewallAllow,
                 NFT_SET_INTERVAL | NFT_SET_CONCAT,
                 Concat({ff.addr_type, kTypeInetProto, kTypeInetService, ff.addr_type}),
                 svc_len + ff.addr_len,
                 0,
                 0,
                 0,
                 {static_cast<uint8_t>(ff.addr_len), 1, 2, static_cast<uint8_t>(ff.addr_len)}},
  };
  for (const auto& name : nft::EndpointMaps()) {
    l.sets.push_back(Growing(Map(name, Concat({kTypeMark, kTypeMark}), 8,
                                 Concat({ff.addr_type, kTypeInetService}), ff.addr_len + 4)));
  }
  if (NftNodePortsRestricted(family, o)) {
    l.sets.push_back(NftSetSpec{nft::kNodePortIps, 0, ff.addr_type, ff.addr_len, 0, 0});
  }
  (void)kTypeVerdict;

  auto base = [](std::string name, std::string type, uint32_t hook, int32_t prio,
                 std::vector<NftRuleSpec> rules) {
    return NftChainSpec{std::move(name), std::move(type), hook, prio, std::move(rules)};
  };
  auto regular = [](std::string name, std::vector<NftRuleSpec> rules) {
    return NftChainSpec{std::move(name), "", std::nullopt, 0, std::move(rules)};
  };
  const uint32_t mark = 1u << o.masquerade_bit;
  const NftRuleSpec check_services = Rule({IfNew(), {Verdict(NFT_JUMP, "endpoints-check")}});

  // Filter: what has no (usable) endpoints is rejected or dropped. Output runs after
  // nat-output's DNAT (priority -90 > -100) so only traffic kpx did not DNAT is judged, as the
  // iptables mode's KUBE-SERVICES filter sees it.
  l.chains.push_back(
      base("filter-input", "filter", NF_INET_LOCAL_IN, -110,
           {check_services, Rule({IfNew(), {Verdict(NFT_JUMP, "nodeports-check")}})}));
  l.chains.push_back(base("filter-forward", "filter", NF_INET_FORWARD, -110, {check_services}));
  // loadBalancerSourceRanges, before DNAT (the LB IP is gone after it): a new connection to an
  // (LB IP . proto . port) with ranges from a source outside them is dropped.
  const NftRuleSpec check_firewall = Rule({IfNew(), {Verdict(NFT_JUMP, "firewall-check")}});
  l.chains.push_back(
      base("filter-prerouting", "filter", NF_INET_PRE_ROUTING, -110, {check_firewall}));
  l.chains.push_back(
      base("filter-output-pre-dnat", "filter", NF_INET_LOCAL_OUT, -110, {check_firewall}));
  l.chains.push_back(regular(
      "firewall-check",
      {Rule({DaddrProtoPort(ff),
             {Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_src, ff.addr_len, R(words + 2)),
              Lookup(nft::kFirewallIps, R(0), std::nullopt),
              Lookup(nft::kFirewallAllow, R(0), std::nullopt, /*invert=*/true),
              Verdict(NF_DROP)}})}));
  const NftRuleSpec record_affinity = Rule({IfNew(), {Verdict(NFT_JUMP, "affinity-record")}});
  l.chains.push_back(
      base("filter-output", "filter", NF_INET_LOCAL_OUT, -90, {record_affinity, check_services}));
  // After prerouting's DNAT: where new connections went, for ClientIP affinity.
  l.chains.push_back(
      base("filter-prerouting-dnat", "filter", NF_INET_PRE_ROUTING, -90, {record_affinity}));
  l.chains.push_back(regular(
      "endpoints-check",
      {Rule({DaddrProtoPort(ff), {Lookup(nft::kNoEndpointServices, kRegKey, NFT_REG_VERDICT)}})}));
  l.chains.push_back(regular(
      "nodeports-check", {Rule({NodePortDestination(family, o, ff),
                                ProtoPort(),
                                {Lookup(nft::kNoEndpointNodePorts, kRegKey, NFT_REG_VERDICT)}})}));
  {
    E reject("reject");
    reject.U(NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH)
        .U(NFTNL_EXPR_REJECT_CODE, family == IpFamily::kIPv4 ? 3u /*port unreachable*/
                                                             : 4u /*ICMPV6_PORT_UNREACH*/);
    l.chains.push_back(regular(nft::kRejectChain, {Rule({{reject}})}));
  }

  // NAT: dispatch by (daddr . proto . dport) or, on node addresses, (proto . dport), through
  // verdict maps into one of five policy chains shared by all services.
  l.chains.push_back(
      base("nat-prerouting", "nat", NF_INET_PRE_ROUTING, -100, {{Verdict(NFT_JUMP, "services")}}));
  l.chains.push_back(
      base("nat-output", "nat", NF_INET_LOCAL_OUT, -100, {{Verdict(NFT_JUMP, "services")}}));
  l.chains.push_back(base("nat-postrouting", "nat", NF_INET_POST_ROUTING, 100,
                          {{Verdict(NFT_JUMP, "masquerading")}}));
  // A packet matching a service address is never treated as a NodePort: the first rule's goto
  // ends the services chain for it.
  const std::vector<NftExprSpec> to_policy = {
      Bitwise(kRegSetId, U32Bytes(nft::kPolicyMask), U32Bytes(0)),
      Lookup(nft::kPolicies, kRegSetId, NFT_REG_VERDICT)};
  l.chains.push_back(regular(
      "services",
      {Rule({DaddrProtoPort(ff), {Lookup(nft::kServiceIds, kRegKey, kRegSetId)}, to_policy}),
       Rule({NodePortDestination(family, o, ff),
             ProtoPort(),
             {Lookup(nft::kNodePortIds, kRegKey, kRegSetId)},
             to_policy})}));

  E masq("masq");
  masq.U(NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
  l.chains.push_back(regular(
      "masquerading",
      {// Hairpin: a pod reaching itself through a service must see the node as the source,
       // or it would answer itself directly.
       Rule({{Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_src, ff.addr_len, kRegKey),
              Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_dst, ff.addr_len, R(words)),
              Lookup(nft::kHairpin, kRegKey, std::nullopt), masq}}),
       Rule({{MetaLoad(NFT_META_MARK, R(0)), Bitwise(R(0), U32Bytes(mark), U32Bytes(0)),
              Cmp(NFT_CMP_EQ, R(0), U32Bytes(0)), Verdict(NFT_RETURN)}}),
       // Clear the mark so a packet going through the stack again is not masqueraded twice.
       Rule({{MetaLoad(NFT_META_MARK, R(0)), Bitwise(R(0), U32Bytes(0xffffffffu), U32Bytes(mark)),
              MetaSet(NFT_META_MARK, R(0))}}),
       Rule({{masq}})}));

  // The kernel refuses a rule that reads a register no earlier expression of the same rule
  // wrote (ENODATA), so nothing travels between rules: every rule that needs the service's
  // endpoint-set id derives it from the packet again, in two variants. The service variant
  // looks (daddr . proto . dport) up in service-ids; the NodePort variant applies when the
  // destination is a node address. All service variants come first, then a rule that returns
  // when the key is in service-ids (so a service address never falls through to another
  // service's NodePort), then the NodePort variants. The chains end there, so the return is
  // what running off their end would do. (An inverted lookup in the NodePort variants would
  // say the same per rule, but older kernels refuse an inverted lookup in a map, and a map
  // lookup without a destination register, with EINVAL: Debian 12's 6.1 refused every such
  // rule. Hence also the unused value the return rule loads.) The value's policy code is masked
  // off: the id names the Cluster endpoint set, id|1 the Local one.
  auto with_id = [&](bool local, const std::vector<std::vector<NftExprSpec>>& tails) {
    const std::vector<NftExprSpec> kind = {
        Bitwise(kRegSetId, U32Bytes(nft::kIdMask), U32Bytes(local ? 1u : 0u))};
    std::vector<NftRuleSpec> out;
    for (const auto& tail : tails) {
      out.push_back(
          Rule({DaddrProtoPort(ff), {Lookup(nft::kServiceIds, kRegKey, kRegSetId)}, kind, tail}));
    }
    out.push_back(Rule(
        {DaddrProtoPort(ff), {Lookup(nft::kServiceIds, kRegKey, kRegSetId), Verdict(NFT_RETURN)}}));
    for (const auto& tail : tails) {
      out.push_back(Rule({NodePortDestination(family, o, ff),
                          ProtoPort(),
                          {Lookup(nft::kNodePortIds, kRegKey, kRegSetId)},
                          kind,
                          tail}));
    }
    return out;
  };
  // ClientIP affinity first: the endpoint this client was sent to, if it is still one of the
  // set's endpoints. Words: 0 service id, 1.. client address, then the remembered endpoint
  // (address . port); the set id is copied in front of the endpoint so (set id . address .
  // port) is one key. It sits here, before the split by endpoint count, so that 10 rules read
  // affinity and service-ids for it rather than 4 in each of the 86 endpoint chains.
  E aff_nat("nat");
  aff_nat.U(NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT)
      .U(NFTNL_EXPR_NAT_FAMILY, ff.nfproto)
      .U(NFTNL_EXPR_NAT_REG_ADDR_MIN, R(1 + words))
      .U(NFTNL_EXPR_NAT_REG_ADDR_MAX, R(1 + words))
      .U(NFTNL_EXPR_NAT_REG_PROTO_MIN, R(1 + 2 * words))
      .U(NFTNL_EXPR_NAT_REG_PROTO_MAX, R(1 + 2 * words))
      .U(NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
  // A set without endpoints has no endpoint-sets element: the packet leaves un-DNATed and the
  // filter chains reject or drop it.
  auto to_endpoints = [&](bool local) {
    return with_id(local,
                   {{Bitwise2(kRegSetId, R(0), U32Bytes(~1u), U32Bytes(0)),
                     Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_src, ff.addr_len, R(1)),
                     Lookup(nft::kAffinity, R(0), R(1 + words)),
                     Bitwise2(kRegSetId, R(words), U32Bytes(0xffffffffu), U32Bytes(0)),
                     Lookup(nft::kAffinityEndpoints, R(words), std::nullopt), aff_nat},
                    {Lookup(nft::kEndpointSets, kRegSetId, kRegIndex),
                     Lookup(nft::kEndpointChains, kRegIndex, NFT_REG_VERDICT)}});
  };
  auto append = [](std::vector<NftRuleSpec>& rules, const std::vector<NftRuleSpec>& more) {
    rules.insert(rules.end(), more.begin(), more.end());
  };
  std::vector<NftRuleSpec> internal_cluster, internal_local;
  if (o.masquerade_all) {
    internal_cluster.push_back(MarkForMasquerade(mark));
  } else if (auto not_pod = SourceIsPod(family, o, node, ff, false)) {
    // Off-cluster clients that route the service range to this node get masqueraded so
    // replies come back through it.
    internal_cluster.push_back(Rule({*not_pod, MarkForMasquerade(mark)}));
  }
  internal_local = internal_cluster;
  append(internal_cluster, to_endpoints(false));
  append(internal_local, to_endpoints(true));
  l.chains.push_back(regular(nft::kInternalCluster, internal_cluster));
  l.chains.push_back(regular(nft::kInternalLocal, internal_local));
  // externalTrafficPolicy Cluster: the endpoint may be on another node, so SNAT.
  std::vector<NftRuleSpec> external_cluster = {MarkForMasquerade(mark)};
  append(external_cluster, to_endpoints(false));
  l.chains.push_back(regular(nft::kExternalCluster, external_cluster));
  // externalTrafficPolicy Local: pods and the node itself reaching an external address behave
  // as if they went out to the load balancer and came back: no policy applies to them.
  std::vector<NftRuleSpec> external_local;
  if (auto pod = SourceIsPod(family, o, node, ff, true)) {
    external_local.push_back(Rule({*pod, {Verdict(NFT_GOTO, nft::kExternalShortcut)}}));
  }
  const std::vector<NftExprSpec> from_host = {FibAddrType(NFTA_FIB_F_SADDR, R(0)),
                                              Cmp(NFT_CMP_EQ, R(0), U32Bytes(kRtnLocal))};
  // The node's own traffic carries an external address as source, which the endpoint could
  // not answer: masquerade it.
  external_local.push_back(Rule({from_host, MarkForMasquerade(mark)}));
  external_local.push_back(Rule({from_host, {Verdict(NFT_GOTO, nft::kExternalShortcut)}}));
  append(external_local, to_endpoints(true));
  l.chains.push_back(regular(nft::kExternalLocal, external_local));
  l.chains.push_back(regular(nft::kExternalShortcut, to_endpoints(false)));

  // Endpoint chains: a random index into the set's endpoints, then DNAT to (addr . port).
  for (const nft::EndpointChain& chain : nft::EndpointChains()) {
    E ng("numgen");
    ng.U(NFTNL_EXPR_NG_DREG, kRegIndex)
        .U(NFTNL_EXPR_NG_MODULUS, chain.slots)
        .U(NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM)
        .U(NFTNL_EXPR_NG_OFFSET, 0);
    E nat("nat");
    nat.U(NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT)
        .U(NFTNL_EXPR_NAT_FAMILY, ff.nfproto)
        .U(NFTNL_EXPR_NAT_REG_ADDR_MIN, R(0))
        .U(NFTNL_EXPR_NAT_REG_ADDR_MAX, R(0))
        .U(NFTNL_EXPR_NAT_REG_PROTO_MIN, R(words))
        .U(NFTNL_EXPR_NAT_REG_PROTO_MAX, R(words))
        // What the kernel reports back: max = min, address and port given.
        .U(NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
    l.chains.push_back(
        regular(chain.name, with_id(chain.local, {{ng, Lookup(chain.map, kRegSetId, R(0)), nat}})));
  }
  // ClientIP affinity is recorded after DNAT, for every new connection to a service with
  // affinity (so each one refreshes the timeout, like the iptables mode's `recent --set`): the
  // service is found again from the connection's original destination.
  auto with_original_id = [&](const std::vector<NftExprSpec>& tail) {
    auto ct = [](uint32_t key, uint32_t dreg) -> NftExprSpec {
      return E("ct")
          .U(NFTNL_EXPR_CT_DREG, dreg)
          .U(NFTNL_EXPR_CT_KEY, key)
          .U(NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
    };
    const std::vector<NftExprSpec> key = {
        ct(family == IpFamily::kIPv4 ? NFT_CT_DST_IP : NFT_CT_DST_IP6, R(0)),
        MetaLoad(NFT_META_L4PROTO, R(words)), ct(NFT_CT_PROTO_DST, R(words + 1))};
    // As with_id above: the service variant, a return for service keys, the NodePort variant.
    std::vector<NftRuleSpec> out;
    out.push_back(Rule({key, {Lookup(nft::kServiceIds, R(0), kRegSetId)}, tail}));
    out.push_back(Rule({key, {Lookup(nft::kServiceIds, R(0), kRegSetId), Verdict(NFT_RETURN)}}));
    out.push_back(Rule({{MetaLoad(NFT_META_L4PROTO, R(0)), ct(NFT_CT_PROTO_DST, R(1)),
                         Lookup(nft::kNodePortIds, R(0), kRegSetId)},
                        tail}));
    return out;
  };
  l.chains.push_back(
      regular("affinity-record",
              with_original_id({Bitwise(kRegSetId, U32Bytes(nft::kIdMask), U32Bytes(0)),
                                Lookup(nft::kAffinityTimeouts, kRegSetId, NFT_REG_VERDICT)})));
  for (uint32_t t : affinity_timeouts) {
    // An update refreshes the timeout of an existing entry and keeps its endpoint (the
    // dataplane deletes entries whose endpoint went away); a missing entry is added.
    E dynset("dynset");
    dynset.U(NFTNL_EXPR_DYNSET_SREG_KEY, R(0))
        .U(NFTNL_EXPR_DYNSET_SREG_DATA, R(1 + words))
        .U(NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE)
        .L(NFTNL_EXPR_DYNSET_TIMEOUT, static_cast<uint64_t>(t) * 1000)
        .S(NFTNL_EXPR_DYNSET_SET_NAME, nft::kAffinity);
    l.chains.push_back(regular(
        NftAffinityChain(t),
        with_original_id(
            {Bitwise2(kRegSetId, R(0), U32Bytes(nft::kIdMask), U32Bytes(0)),
             Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_src, ff.addr_len, R(1)),
             Payload(NFT_PAYLOAD_NETWORK_HEADER, ff.addr_offset_dst, ff.addr_len, R(1 + words)),
             Payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(1 + 2 * words)), dynset})));
  }
  return l;
}

}  // namespace kpx
