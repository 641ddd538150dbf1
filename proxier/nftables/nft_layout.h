#pragma once

#include <linux/netfilter/nf_tables.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "proxier/core/desired_state.h"
#include "proxier/nftables/nft_options.h"

namespace kpx {

// One nf_tables expression as plain data: its name ("payload", "lookup", ...) and attributes by
// libnftnl attribute number. Turned into a struct nftnl_expr by NftMessages; kept as data so the
// layout is pure and comparable.
struct NftExprSpec {
  std::string name;
  std::vector<std::pair<uint16_t, uint32_t>> u32s;
  std::vector<std::pair<uint16_t, uint64_t>> u64s;
  std::vector<std::pair<uint16_t, std::string>> strs;
  std::vector<std::pair<uint16_t, std::string>> bytes;
  bool operator==(const NftExprSpec&) const = default;
};

using NftRuleSpec = std::vector<NftExprSpec>;

struct NftChainSpec {
  std::string name;
  // Base chains only: "nat"/"filter", the NF_INET_* hook number and the priority.
  std::string type;
  std::optional<uint32_t> hook;
  int32_t priority = 0;
  std::vector<NftRuleSpec> rules;
};

struct NftSetSpec {
  std::string name;
  uint32_t flags = 0;  // NFT_SET_MAP, ...
  uint32_t key_type = 0;
  uint32_t key_len = 0;
  uint32_t data_type = 0;  // NFT_DATA_VERDICT for verdict maps
  uint32_t data_len = 0;
  uint32_t size = 0;  // maximum elements (0: unbounded)
  // Field lengths of a concatenation of ranges (NFT_SET_INTERVAL|NFT_SET_CONCAT). Not compared:
  // the kernel's dump is not read back for it, and the flags and key length already differ
  // whenever it would.
  std::vector<uint8_t> concat_fields = {};
  // kpx declares a size for this set, with headroom over its elements, and raises it as the set
  // grows. A declared size is also the set's maximum (ENFILE beyond it), but it sizes the
  // kernel's hash table once instead of doubling it under the load: a cold load of these sets
  // costs the kernel about half (kpx-nft-floor --resizable-hint). Such sets also carry
  // NFT_SET_TIMEOUT with no timeouts at all, only so that the kernel picks its resizable hash:
  // with a size and no such flag it picks a hash whose bucket count never changes, whatever the
  // size is raised to. Not compared: the dataplane chooses the size (NftSetCapacity).
  bool grows = false;
  uint32_t gc_interval_ms = 0;  // NFTA_SET_GC_INTERVAL, sent when non-zero; not compared
  bool operator==(const NftSetSpec& o) const {
    return name == o.name && flags == o.flags && key_type == o.key_type && key_len == o.key_len &&
           data_type == o.data_type && data_len == o.data_len && size == o.size;
  }
  // Whether the kernel's set `have` can stand for this one: the same key and data. For a set
  // that grows, its size is the dataplane's to raise, and an unsized set without the flag
  // (written before kpx declared sizes, or on a kernel that cannot raise one) works as well.
  bool CompatibleWith(const NftSetSpec& have) const {
    const uint32_t ignored = grows ? NFT_SET_TIMEOUT : 0;
    return name == have.name && (flags & ~ignored) == (have.flags & ~ignored) &&
           key_type == have.key_type && key_len == have.key_len && data_type == have.data_type &&
           data_len == have.data_len && (grows || size == have.size);
  }
};

// The fixed part of one family's table: chains with their rules, and the sets and maps whose
// elements carry every service. Neither grows with the number of Services.
struct NftLayout {
  IpFamily family = IpFamily::kIPv4;
  std::vector<NftSetSpec> sets;
  std::vector<NftChainSpec> chains;
};

// Names shared by the layout and the element computation.
namespace nft {
inline constexpr char kTable[] = "kpx";
// Where a new layout is built whole before kpx's table is rebuilt (NftDataplane::FullSync).
inline constexpr char kShadowTable[] = "kpx-next";
// (daddr . proto . dport) and (proto . dport) -> the service's id with its policy code: the
// dispatch reads the policy chain from the code (through the constant `policies` map), the
// endpoint chains the id. One data map instead of a data map and a verdict map of the same keys:
// a verdict element pointing at a chain costs the kernel a validation at commit on top of the
// element itself (a cold load at 10 000 x 10 took a sixth longer with the verdict maps).
inline constexpr char kServiceIds[] = "service-ids";
inline constexpr char kNodePortIds[] = "nodeport-ids";
inline constexpr char kPolicies[] = "policies";
// Ids are multiples of kIdStep: bit 0 names the Local endpoint set (id|1), bits 1-2 carry the
// policy code in service-ids and nodeport-ids values.
inline constexpr uint32_t kIdStep = 8;
inline constexpr uint32_t kIdMask = ~(kIdStep - 1);
inline constexpr uint32_t kPolicyMask = 6;
inline constexpr uint32_t kPolicyInternalCluster = 0;
inline constexpr uint32_t kPolicyInternalLocal = 2;
inline constexpr uint32_t kPolicyExternalCluster = 4;
inline constexpr uint32_t kPolicyExternalLocal = 6;
// endpoint-sets: endpoint-set id -> the code of its endpoint chain; endpoint-chains: code ->
// goto that chain (86 elements, fixed). Data rather than a verdict per set for the reason given
// at service-ids.
inline constexpr char kEndpointSets[] = "endpoint-sets";
inline constexpr char kEndpointChains[] = "endpoint-chains";
// The endpoints of every set are in one of seven maps: "endpoints-<S>" holds the sets of the
// exact endpoint chains for more than S/2 and at most S endpoints (S = 1, 2, 4, ... 32), and
// "endpoints-slots" those of the slot tables. The kernel checks every element added to a map
// against every rule that reads the map: with one map read by all 172 endpoint rules that check
// cost as much as storing the element. Split this way, a map is read by at most 64 rules (by 32
// for sets of 9 to 16 endpoints).
inline constexpr char kEndpointsPrefix[] = "endpoints-";
inline constexpr char kNoEndpointServices[] = "no-endpoint-services";
inline constexpr char kNoEndpointNodePorts[] = "no-endpoint-nodeports";
inline constexpr char kHairpin[] = "hairpin";
inline constexpr char kNodePortIps[] = "nodeport-ips";
// ClientIP affinity: (service id . client) -> endpoint, written by the packet path with the
// service's timeout; which endpoints are still valid per endpoint set; and which services have
// affinity, with the chain that records it for their timeout.
inline constexpr char kAffinity[] = "affinity";
inline constexpr char kAffinityEndpoints[] = "affinity-endpoints";
inline constexpr char kAffinityTimeouts[] = "affinity-timeouts";
inline constexpr uint32_t kAffinitySize = 1u << 20;
// loadBalancerSourceRanges: the (LB IP . proto . port) that have ranges, and the allowed
// (LB IP . proto . port . source range) as ranges (elements hold start and end keys).
inline constexpr char kFirewallIps[] = "firewall-ips";
inline constexpr char kFirewallAllow[] = "firewall-allow";

inline constexpr char kRejectChain[] = "reject-chain";
inline constexpr char kInternalCluster[] = "internal-cluster";
inline constexpr char kInternalLocal[] = "internal-local";
inline constexpr char kExternalCluster[] = "external-cluster";
inline constexpr char kExternalLocal[] = "external-local";
inline constexpr char kExternalShortcut[] = "external-shortcut";

// Endpoint counts up to this get a chain of their own ("ep-N", numgen mod N: exact); larger
// sets are spread over a slot table of 2^k >= 16 N slots ("ep-slots-2^k"), so no endpoint gets
// more than 1/16 more or less than its share. Local endpoint sets use "epl-" chains.
inline constexpr uint32_t kMaxExactEndpoints = 32;
inline constexpr uint32_t kMinSlotBits = 10;
inline constexpr uint32_t kMaxSlotBits = 20;
// The most endpoints one set may hold: 2^kMaxSlotBits / 16.
inline constexpr uint32_t kMaxEndpointsPerSet = (1u << kMaxSlotBits) / 16;

// Chain dispatching a set of n endpoints (1 <= n <= kMaxEndpointsPerSet) and how many index
// slots it draws from.
struct EndpointChain {
  std::string name;
  uint32_t slots = 0;
  std::string map;     // the endpoints map it reads
  uint32_t code = 0;   // its key in endpoint-chains
  bool local = false;  // draws from a Local endpoint set (id|1)
};
const EndpointChain& EndpointChainFor(uint32_t n, bool local);
// Every endpoint chain, Cluster ones first, exact ones before slot tables.
const std::vector<EndpointChain>& EndpointChains();
// Every endpoints map name, in a fixed order.
const std::vector<std::string>& EndpointMaps();
bool IsEndpointMap(std::string_view set);
}  // namespace nft

// "affinity-<seconds>": the chain recording ClientIP affinity with that timeout.
std::string NftAffinityChain(uint32_t timeout_seconds);

// The size declared for a growing set that is to hold `elements`: a quarter more, plus
// `min_size`, so that a set is raised (one small transaction) only after it grew by a quarter.
uint32_t NftSetCapacity(size_t elements, uint32_t min_size);

// Pure: the layout for one family. `node` matters only for --detect-local-mode=NodeCIDR.
// `affinity_timeouts` are the distinct sessionAffinity timeouts in use: one small chain each (a
// dynset's timeout is a constant of the rule), so the chain count grows with distinct timeout
// values, never with Services.
NftLayout BuildNftLayout(IpFamily family, const NftOptions& options, const NodeState& node,
                         const std::set<uint32_t>& affinity_timeouts = {});

// Whether NodePorts are restricted to listed addresses (the nodeport-ips set) for `family`.
bool NftNodePortsRestricted(IpFamily family, const NftOptions& options);

}  // namespace kpx
