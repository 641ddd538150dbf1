#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "proxier/core/desired_state.h"
#include "proxier/nftables/nft_options.h"

namespace kpx {

// The value of one set or map element: nothing (plain sets), data bytes (data maps) or a
// verdict with its chain (verdict maps).
struct NftValue {
  std::string data;
  bool is_verdict = false;
  int32_t verdict = 0;  // NF_DROP, NFT_JUMP, NFT_GOTO, ...
  std::string chain;
  bool operator==(const NftValue&) const = default;
  std::string ToString() const;
};

struct NftElement {
  std::string set;
  std::string key;  // bytes as the kernel stores them (concatenations padded to 4 bytes)
  NftValue value;
  bool operator==(const NftElement&) const = default;
};

// Pure: every element one service port contributes to `family`'s table. `id` is the port's
// service id in this family, a multiple of nft::kIdStep (id names the Cluster endpoint set, id|1
// the Local one).
// Mirrors the iptables mode's rendering: the same endpoint sets, the same reject/drop choices.
// `node_addresses` (the Node's) matter only for loadBalancerSourceRanges that allow the node.
std::vector<NftElement> ServicePortElements(const ServicePortState& port, IpFamily family,
                                            uint32_t id,
                                            const std::vector<IpAddress>& node_addresses = {});

// Pure: how many elements ServicePortElements gives, for the same port, each set that holds or
// names its ids: the per-id sets (the endpoints maps, endpoint-sets, affinity-endpoints,
// affinity-timeouts) and the id maps (service-ids, nodeport-ids); `add(set, n)` once or more
// per set, nothing built. Exactly what it gives: a set ends up holding fewer only when an
// endpoint is listed twice (a duplicate affinity-endpoints key is dropped) or two ports claim
// one dispatch key. A cold full sync declares those sets from it before it streams elements.
void ServicePortIdElementCounts(const ServicePortState& port, IpFamily family,
                                const std::function<void(std::string_view set, size_t n)>& add);

// Pure: the elements that do not belong to a service: the chains of the policy codes and of the
// endpoint chain codes, and nodeport-ips when NodePorts are restricted to --nodeport-addresses.
std::vector<NftElement> NodeElements(IpFamily family, const NftOptions& options,
                                     const std::vector<IpAddress>& local_addresses);

// The sessionAffinity timeout kpx programs for `info`, in seconds.
uint32_t AffinityTimeout(const ServicePortInfo& info);

// Key encodings, shared with tests.
std::string NftServiceKey(const IpAddress& ip, Protocol protocol, int port);
std::string NftNodePortKey(Protocol protocol, int port);
std::string NftU32(uint32_t host_order);
std::string NftEndpointData(const IpAddress& ip, int port);

}  // namespace kpx
