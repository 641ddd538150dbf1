#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/cidr.h"
#include "base/protocol.h"
#include "base/status.h"
#include "proxier/ipvs/ipvs_timeouts.h"

namespace kpx {

// Everything the IPVS dataplane is configured with (kube-proxy's --ipvs-* flags and friends).
// Plain data, copied freely.
struct IpvsOptions {
  // Families to program; IPVS itself is dual-stack, the iptables/ipset parts run per family.
  std::vector<IpFamily> families = {IpFamily::kIPv4};
  // --ipvs-scheduler: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, mh. Empty means rr.
  std::string scheduler = "rr";
  // --ipvs-tcp-timeout, --ipvs-tcpfin-timeout, --ipvs-udp-timeout; zero leaves the kernel's.
  IpvsTimeouts timeouts;

  std::string dummy_device = "kube-ipvs0";
  // kube-proxy leaves the dummy device down; see LinkHandle::EnsureDummy.
  bool dummy_up = false;

  // --nodeport-addresses: NodePort virtual servers only on local addresses inside these; empty
  // means every local address (except loopback, link-local and the dummy device's).
  std::vector<Cidr> node_port_addresses;
  // Virtual servers on node addresses are kpx's only with a port in this range, so another
  // IPVS user's services on the node's own addresses are left alone.
  int node_port_min = 30000;
  int node_port_max = 32767;

  // --masquerade-all, --masquerade-bit, --cluster-cidr (one per family) as in the iptables mode.
  bool masquerade_all = false;
  int masquerade_bit = 14;
  std::vector<Cidr> cluster_cidrs;
  bool masquerade_random_fully = true;

  // "auto" (detect like kube-proxy's iptables-wrapper), "nft" or "legacy".
  std::string iptables_backend = "auto";
  // Write net/ipv4/vs/* and ip_forward as kube-proxy does.
  bool set_sysctls = true;

  // A destination removed while it still has connections keeps weight 0 until they drain, but
  // never longer than this.
  std::chrono::seconds graceful_termination_bound{900};
  // How often draining destinations are checked between syncs, so a drained one is deleted even
  // when no change arrives.
  std::chrono::milliseconds graceful_termination_check{10000};
  // --ipvs-strict-arp: answer ARP only for addresses on the receiving interface and announce
  // only the best local source, so the service IPs on the dummy device are not advertised to
  // the LAN (what MetalLB-style L2 load balancers need). kube-proxy sets arp_ignore=1 and
  // arp_announce=2 on net/ipv4/conf/all.
  bool strict_arp = false;
};

// True for the schedulers kube-proxy accepts for --ipvs-scheduler.
bool IsKnownIpvsScheduler(std::string_view name);

// Fails fast with a message naming the bad setting (unknown scheduler, bad masquerade bit,
// empty families, inverted NodePort range).
Status ValidateIpvsOptions(const IpvsOptions& options);

}  // namespace kpx
