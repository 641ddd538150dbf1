#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "base/protocol.h"
#include "proxier/netfilter/iptables_backend.h"

namespace kpx {

// How kpx tells pod traffic from off-node/off-cluster traffic, as kube-proxy's --detect-local-mode.
// Without a working detector kpx cannot short-circuit pod traffic to external IPs and masquerades
// nothing but what --masquerade-all and the external chains ask for.
enum class LocalDetectMode {
  kNone,                 // no detector
  kClusterCidr,          // source inside --cluster-cidr (one CIDR per family)
  kNodeCidr,             // source inside this node's podCIDRs (from the Node object)
  kBridgeInterface,      // arrived on `local_interface` (e.g. cbr0)
  kInterfaceNamePrefix,  // arrived on an interface named `local_interface`+ (e.g. veth+)
};

// Where KUBE-SERVICES sends service traffic. kLinear is kube-proxy's layout: one rule per
// (service IP, port) in one chain, so the first packet of a connection pays O(services).
// kPrefixTree splits the same rules by destination prefix into a path-compressed binary tree of
// chains (see prefix_dispatch.h), so it pays O(log services) rule evaluations instead.
enum class DispatchMode { kLinear, kPrefixTree };

// Everything the iptables dataplane is configured with. Plain data, copied freely.
struct IptablesOptions {
  // Families to program; the dataplane runs one ruleset per family (iptables / ip6tables).
  std::vector<IpFamily> families = {IpFamily::kIPv4, IpFamily::kIPv6};
  IptablesBackend backend = IptablesBackend::kAuto;

  bool masquerade_all = false;
  // Bit of the packet mark that asks KUBE-POSTROUTING to masquerade (kube-proxy's default 14).
  int masquerade_bit = 14;
  LocalDetectMode local_detect = LocalDetectMode::kClusterCidr;
  // At most one per family is used, as kube-proxy does.
  std::vector<Cidr> cluster_cidrs;
  std::string local_interface;  // for kBridgeInterface and kInterfaceNamePrefix
  // --nodeport-addresses: NodePorts answer only on local addresses inside these; empty (or a
  // 0.0.0.0/0 / ::/0 entry) means every local address, matched with -m addrtype.
  std::vector<Cidr> node_port_addresses;
  // Lists this host's addresses when node_port_addresses is set; defaults to the Node object's
  // addresses from the DesiredState. Injected so rendering stays pure.
  std::function<std::vector<IpAddress>()> local_address_lister;
  // NodePorts on 127.0.0.1 (needs net.ipv4.conf.all.route_localnet=1, which the caller sets). When
  // true kpx also installs kube-proxy's KUBE-FIREWALL guard against martian localnet traffic.
  bool localhost_nodeports = true;
  // nf_conntrack_tcp_be_liberal is set; when false kpx drops INVALID packets in KUBE-FORWARD.
  bool conntrack_tcp_liberal = false;
  bool masquerade_random_fully = true;

  DispatchMode dispatch = DispatchMode::kLinear;
  // kPrefixTree: a chain with at most this many rules is not split further.
  int dispatch_leaf_size = 8;

  // A full sync at least this often even if nothing changed, to repair drift. The sync runner owns
  // the clock; this is only advisory for callers wiring the runner.
  std::chrono::seconds full_sync_period{3600};
};

// "0x4000" for bit 14: the mark value and mask kube-proxy writes.
std::string MasqueradeMark(int masquerade_bit);

}  // namespace kpx
