#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "base/protocol.h"
#include "proxier/netfilter/iptables_backend.h"
#include "proxier/netfilter/local_traffic_detector.h"

namespace kpx {

// Everything the userspace mode is configured with. Plain data, copied freely.
struct UserspaceOptions {
  // Families that get listeners and portal rules (iptables / ip6tables).
  std::vector<IpFamily> families = {IpFamily::kIPv4, IpFamily::kIPv6};
  // How portal rules reach the kernel; the same runners as the iptables mode.
  IptablesBackend backend = IptablesBackend::kAuto;

  // --nodeport-addresses (CIDRs, or `node_port_primary`): NodePort portals only on the host's
  // interface addresses inside them, listed by `local_address_lister` at each full sync (the
  // Node object's addresses stand in without a lister).
  std::vector<Cidr> node_port_addresses;
  bool node_port_primary = false;
  std::function<std::vector<IpAddress>()> local_address_lister;

  // --detect-local-mode: pod traffic to external destinations goes to the internal frontend.
  LocalDetectMode local_detect = LocalDetectMode::kNone;
  std::vector<Cidr> cluster_cidrs;
  std::string local_interface;  // for kBridgeInterface and kInterfaceNamePrefix

  // Only TCP connections a portal rule redirected are relayed; one made straight to a listener's
  // port (which answers on every node address) is reset. Off only where nothing redirects: the
  // relay's own tests and benchmark connect to the listeners directly.
  bool require_portal = true;

  // Event-loop threads; 0 means one per online CPU. They share each service port's one listening
  // socket (EPOLLEXCLUSIVE), so more workers cost no descriptors per service port.
  int workers = 0;

  // A backend connect that has not completed in this time counts as failed (and is retried).
  std::chrono::milliseconds connect_timeout{3000};
  // Endpoints tried for one client connection before it is reset; never more than the service has.
  int max_connect_attempts = 3;
  // A TCP connection with no byte moving in either direction for this long is closed; 0 disables.
  std::chrono::milliseconds tcp_idle_timeout{std::chrono::hours(1)};
  // A UDP session (client address -> one endpoint) with no datagram for this long is dropped.
  // kube-proxy's --udp-timeout default.
  std::chrono::milliseconds udp_idle_timeout{250};
  // Concurrent TCP connections plus UDP sessions per service port and role; 0 means unlimited.
  int max_connections_per_service = 10000;
  // The "limit hit" warning is logged at most once per interval per service port.
  std::chrono::milliseconds limit_log_interval{10000};
  // Capacity of each splice pipe (two per connection). Larger pipes move more per syscall.
  size_t pipe_size = 256 * 1024;
};

}  // namespace kpx
