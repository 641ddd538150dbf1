#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "base/protocol.h"
#include "proxier/netfilter/iptables_backend.h"
#include "proxier/netfilter/local_traffic_detector.h"

namespace kpx {

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
  // --nodeport-addresses=primary: the node's primary IP per family (see NodePortAddresses).
  bool node_port_primary = false;
  // Lists this host's interface addresses, which NodePorts are matched against (kube-proxy's
  // rule); without it (unit tests) the Node object's addresses stand in. Injected so rendering
  // stays pure.
  std::function<std::vector<IpAddress>()> local_address_lister;
  // NodePorts on 127.0.0.1 (needs net.ipv4.conf.all.route_localnet=1, which the caller sets). When
  // true kpx also installs kube-proxy's KUBE-FIREWALL guard against martian localnet traffic.
  // Off by default, as KpxConfig (--iptables-localhost-nodeports): kube-proxy's default is on,
  // and tests that reproduce kube-proxy's rules ask for it.
  bool localhost_nodeports = false;
  // nf_conntrack_tcp_be_liberal is set; when false kpx drops INVALID packets in KUBE-FORWARD.
  bool conntrack_tcp_liberal = false;
  // kube-proxy's nfacct counters exist (the caller created them): count dropped INVALID packets
  // and accepted localhost NodePort packets into them, as kube-proxy's rules do.
  bool nfacct_ct_state_invalid = false;
  bool nfacct_localhost_nodeports = false;
  bool masquerade_random_fully = true;

  DispatchMode dispatch = DispatchMode::kLinear;
  // kPrefixTree: a chain with at most this many rules is not split further.
  int dispatch_leaf_size = 8;

  // A periodic resync (Apply with full=true) rewrites every chain only when the last full sync
  // is at least this old; otherwise it checks the canary chain (KUBE-PROXY-CANARY in mangle)
  // and is partial unless the canary is gone. kube-proxy's FullSyncPeriod (one hour). Zero:
  // every full request is a full sync.
  std::chrono::milliseconds full_sync_period = std::chrono::hours(1);

  // kube-proxy's largeClusterEndpointsThreshold: with more endpoints than this in a family
  // (every endpoint of every service port, whatever its condition) the per-endpoint comments
  // ("ns/svc:port -> ip:port" in KUBE-SVC/SVL, "ns/svc:port" in KUBE-SEP) are left out, which
  // shrinks the table the kernel copies on every change by a third. Negative: never.
  int large_cluster_endpoints_threshold = 1000;
};

// "0x4000" for bit 14: the mark value and mask kube-proxy writes.
std::string MasqueradeMark(int masquerade_bit);

}  // namespace kpx
