#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"

namespace kpx {

// How the nftables mode tells pod traffic from the rest (kube-proxy's --detect-local-mode):
// by source address (the cluster CIDR, the Node's podCIDRs) or by input interface (a bridge's
// exact name, or a name prefix such as "veth").
enum class NftLocalDetect {
  kNone,
  kClusterCidr,
  kNodeCidr,
  kBridgeInterface,
  kInterfaceNamePrefix
};

// Everything the nftables dataplane is configured with. Plain data, copied freely.
struct NftOptions {
  std::vector<IpFamily> families = {IpFamily::kIPv4, IpFamily::kIPv6};
  bool masquerade_all = false;
  int masquerade_bit = 14;  // kube-proxy's default mark bit 0x4000
  NftLocalDetect local_detect = NftLocalDetect::kClusterCidr;
  std::vector<Cidr> cluster_cidrs;  // the first of each family is used, as kube-proxy does
  // kBridgeInterface: the bridge's name; kInterfaceNamePrefix: the prefix (at most 15 bytes).
  std::string local_interface;
  // --nodeport-addresses: NodePorts answer only on local addresses inside these. Empty (or a /0)
  // means every local address except loopback, matched with `fib daddr type local`.
  std::vector<Cidr> node_port_addresses;
  // Lists this host's addresses when node_port_addresses restricts them; defaults to the Node
  // object's addresses. Injected so the element computation stays pure.
  std::function<std::vector<IpAddress>()> local_address_lister;
  // At most this many bytes of netlink messages per transaction; a larger change is committed as
  // several transactions (each one atomic, element batches never split a service port's
  // dispatch from its endpoints: endpoints go in before the dispatch that needs them).
  size_t max_batch_bytes = 4u << 20;
  // The headroom every growing set gets over its elements (NftSetCapacity); tests lower it to
  // see sets raised with a few elements.
  uint32_t min_set_size = 256;
  // Whether the kernel applies a new size to an existing set (NftSetSizesUpdate: Linux 6.5 and
  // later; older kernels accept the message and keep the old size). Without it growing sets are
  // left unsized: the kernel grows them on its own, only slower on a cold load.
  bool set_sizes_update = true;
};

}  // namespace kpx
