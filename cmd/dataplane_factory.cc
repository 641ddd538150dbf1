#include "cmd/dataplane_factory.h"

#include <glog/logging.h>

#include <functional>
#include <memory>

#include "base/cidr.h"
#include "proxier/iptables/iptables_dataplane_factory.h"
#include "proxier/ipvs/ipvs_dataplane_factory.h"
#include "proxier/netfilter/getifaddrs_local_address_lister.h"
#include "proxier/netfilter/iptables_backend.h"
#include "proxier/netfilter/local_traffic_detector.h"
#include "proxier/netfilter/netlink_nfacct.h"
#include "proxier/nftables/nft_dataplane_factory.h"
#include "proxier/printing_dataplane.h"
#include "proxier/userspace/userspace_dataplane.h"
#include "proxier/userspace/userspace_dataplane_factory.h"

namespace kpx {

namespace {

void NodePortAddressesFrom(const KpxConfig& config, std::vector<Cidr>* cidrs, bool* primary) {
  const NodePortAddresses npa = NodePortAddressesOf(config);
  *cidrs = npa.cidrs;
  *primary = npa.primary;
}

// NodePorts are matched against the host's interface addresses, as kube-proxy does.
std::function<std::vector<IpAddress>()> InterfaceAddresses() {
  auto lister = std::make_shared<GetifaddrsLocalAddressLister>();
  return [lister] {
    auto listed = lister->List();
    if (!listed.ok()) {
      LOG(WARNING) << "cannot list this host's addresses for NodePorts: "
                   << listed.status().message() << "; using the Node object's";
      return std::vector<IpAddress>();
    }
    return std::move(listed).value();
  };
}

struct LocalDetect {
  LocalDetectMode mode = LocalDetectMode::kNone;
  std::string interface;
};

// --detect-local-mode and its interface flags; ClusterCIDR without a cluster CIDR detects
// nothing, as in kube-proxy.
LocalDetect LocalDetectFrom(const KpxConfig& config) {
  LocalDetect d;
  d.mode = config.detect_local_mode;
  if (d.mode == LocalDetectMode::kClusterCidr && config.cluster_cidrs.empty()) {
    d.mode = LocalDetectMode::kNone;
  }
  if (d.mode == LocalDetectMode::kBridgeInterface)
    d.interface = config.detect_local.bridge_interface;
  if (d.mode == LocalDetectMode::kInterfaceNamePrefix) {
    d.interface = config.detect_local.interface_name_prefix;
  }
  return d;
}

Result<IptablesOptions> IptablesOptionsFrom(const KpxConfig& config) {
  IptablesOptions o;
  auto backend = ParseIptablesBackend(config.iptables.backend);
  if (!backend) return Status::Error("unknown iptables backend " + config.iptables.backend);
  o.backend = *backend;
  o.masquerade_all = config.iptables.masquerade_all;
  o.masquerade_bit = config.iptables.masquerade_bit;
  for (const auto& c : config.cluster_cidrs) o.cluster_cidrs.push_back(*Cidr::Parse(c));
  const LocalDetect local = LocalDetectFrom(config);
  o.local_detect = local.mode;
  o.local_interface = local.interface;
  NodePortAddressesFrom(config, &o.node_port_addresses, &o.node_port_primary);
  o.local_address_lister = InterfaceAddresses();
  o.localhost_nodeports = config.iptables.localhost_nodeports;
  // kube-proxy drops INVALID packets in KUBE-FORWARD unless conntrack is told to be liberal.
  o.conntrack_tcp_liberal = config.conntrack.tcp_be_liberal;
  o.dispatch =
      config.iptables.dispatch == "prefix-tree" ? DispatchMode::kPrefixTree : DispatchMode::kLinear;
  o.full_sync_period = config.iptables.full_sync_period;
  return o;
}

IpvsOptions IpvsOptionsFrom(const KpxConfig& config) {
  IpvsOptions o;
  o.scheduler = config.ipvs.scheduler;
  const auto seconds = [](std::chrono::milliseconds d) {
    return static_cast<uint32_t>(d.count() / 1000);
  };
  o.timeouts.tcp = seconds(config.ipvs.tcp_timeout);
  o.timeouts.tcp_fin = seconds(config.ipvs.tcp_fin_timeout);
  o.timeouts.udp = seconds(config.ipvs.udp_timeout);
  o.strict_arp = config.ipvs.strict_arp;
  // IPVS lists the host's addresses itself (netlink), as it needs their interfaces.
  NodePortAddressesFrom(config, &o.node_port_addresses, &o.node_port_primary);
  o.masquerade_all = config.iptables.masquerade_all;
  o.masquerade_bit = config.iptables.masquerade_bit;
  for (const auto& c : config.cluster_cidrs) o.cluster_cidrs.push_back(*Cidr::Parse(c));
  const LocalDetect local = LocalDetectFrom(config);
  o.local_detect = local.mode;
  o.local_interface = local.interface;
  o.iptables_backend = config.iptables.backend == "libiptc" ? "legacy" : config.iptables.backend;
  return o;
}

NftOptions NftOptionsFrom(const KpxConfig& config) {
  NftOptions o;
  o.masquerade_all = config.iptables.masquerade_all;
  o.masquerade_bit = config.iptables.masquerade_bit;
  for (const auto& c : config.cluster_cidrs) o.cluster_cidrs.push_back(*Cidr::Parse(c));
  if (config.detect_local_mode == LocalDetectMode::kNodeCidr) {
    o.local_detect = NftLocalDetect::kNodeCidr;
  } else if (config.detect_local_mode == LocalDetectMode::kClusterCidr) {
    // kube-proxy: ClusterCIDR mode without a cluster CIDR detects nothing.
    o.local_detect = o.cluster_cidrs.empty() ? NftLocalDetect::kNone : NftLocalDetect::kClusterCidr;
  } else if (config.detect_local_mode == LocalDetectMode::kBridgeInterface) {
    o.local_detect = NftLocalDetect::kBridgeInterface;
    o.local_interface = config.detect_local.bridge_interface;
  } else if (config.detect_local_mode == LocalDetectMode::kInterfaceNamePrefix) {
    o.local_detect = NftLocalDetect::kInterfaceNamePrefix;
    o.local_interface = config.detect_local.interface_name_prefix;
  } else {
    o.local_detect = NftLocalDetect::kNone;
  }
  for (const auto& a : config.nodeport_addresses) {
    if (auto c = Cidr::Parse(a)) o.node_port_addresses.push_back(*c);
  }
  return o;
}

UserspaceOptions UserspaceOptionsFrom(const KpxConfig& config) {
  UserspaceOptions o;
  if (auto backend = ParseIptablesBackend(config.iptables.backend)) o.backend = *backend;
  NodePortAddressesFrom(config, &o.node_port_addresses, &o.node_port_primary);
  o.local_address_lister = InterfaceAddresses();
  for (const auto& c : config.cluster_cidrs) o.cluster_cidrs.push_back(*Cidr::Parse(c));
  const LocalDetect local = LocalDetectFrom(config);
  o.local_detect = local.mode;
  o.local_interface = local.interface;
  return o;
}

// kube-proxy's two nfacct counters: created if the kernel has nfnetlink_acct, counted into by
// the iptables rules, and exported as kube-proxy's metrics. Without the kernel support the rules
// carry no nfacct match and the metrics are absent, as in kube-proxy.
void EnableNfacctCounters(IptablesOptions& options, MetricsRegistry& metrics) {
  auto acct = std::make_shared<NetlinkNfacct>();
  struct Counter {
    const char* name;
    bool IptablesOptions::*flag;
    const char* metric;
    const char* help;
  };
  static constexpr Counter kCounters[] = {
      {kCtStateInvalidDroppedCounter, &IptablesOptions::nfacct_ct_state_invalid,
       "kubeproxy_iptables_ct_state_invalid_dropped_packets_total",
       "packets dropped by iptables to work around conntrack problems"},
      {kLocalhostNodePortsAcceptedCounter, &IptablesOptions::nfacct_localhost_nodeports,
       "kubeproxy_iptables_localhost_nodeports_accepted_packets_total",
       "Number of packets accepted on nodeports of loopback interface"},
  };
  for (const Counter& c : kCounters) {
    if (Status st = acct->Ensure(c.name); !st.ok()) {
      LOG(WARNING) << "nfacct counter " << c.name << " unavailable (" << st.message()
                   << "); metric " << c.metric << " will not be exported";
      continue;
    }
    options.*c.flag = true;
    metrics.SetCounterFunc(c.metric, c.help, {}, [acct, name = std::string(c.name)] {
      auto packets = acct->Packets(name);
      return packets.ok() ? static_cast<double>(*packets) : 0.0;
    });
  }
}

// The relay's counters move between syncs, so they are read at scrape time.
void ExportUserspaceMetrics(const UserspaceDataplane& dp, MetricsRegistry& metrics) {
  struct Field {
    const char* name;
    const char* help;
    uint64_t UserspaceCounters::*field;
  };
  static constexpr Field kFields[] = {
      {"kpx_userspace_connections_accepted_total", "TCP connections accepted by the relay",
       &UserspaceCounters::accepted},
      {"kpx_userspace_connect_failures_total", "Backend connects that failed or timed out",
       &UserspaceCounters::failed_connects},
      {"kpx_userspace_connect_retries_total", "Connects retried on a further endpoint",
       &UserspaceCounters::retries},
      {"kpx_userspace_limit_hits_total", "Connections refused by the per-service limit",
       &UserspaceCounters::limit_hits},
      {"kpx_userspace_no_endpoint_rejects_total", "Connections reset for lack of endpoints",
       &UserspaceCounters::no_endpoint_rejects},
      {"kpx_userspace_bytes_spliced_total", "TCP payload relayed with splice, both directions",
       &UserspaceCounters::bytes_spliced},
      {"kpx_userspace_udp_datagrams_total", "UDP datagrams relayed, both directions",
       &UserspaceCounters::udp_datagrams},
  };
  for (const auto& f : kFields) {
    metrics.SetCounterFunc(f.name, f.help, {}, [&dp, field = f.field] {
      return static_cast<double>(dp.counters().*field);
    });
  }
}

}  // namespace

// kube-proxy's --nodeport-addresses: CIDRs, or "primary" (validated by ValidateConfig).
NodePortAddresses NodePortAddressesOf(const KpxConfig& config) {
  NodePortAddresses npa;
  for (const auto& a : config.nodeport_addresses) {
    if (a == "primary") {
      npa.primary = true;
    } else if (auto c = Cidr::Parse(a)) {
      npa.cidrs.push_back(*c);
    }
  }
  return npa;
}

Result<std::unique_ptr<Dataplane>> MakeDataplane(const KpxConfig& config, std::ostream& out,
                                                 MetricsRegistry& metrics) {
  if (config.dry_run) {
    if (config.cleanup) return Status::Error("--cleanup and --dry-run exclude each other");
    return std::unique_ptr<Dataplane>(std::make_unique<PrintingDataplane>(out));
  }
  switch (config.mode) {
    case ProxyMode::kIptables: {
      auto options = IptablesOptionsFrom(config);
      if (!options.ok()) return options.status();
      IptablesOptions o = std::move(options).value();
      EnableNfacctCounters(o, metrics);
      return NewIptablesDataplane(o);
    }
    case ProxyMode::kIpvs:
      return NewIpvsDataplane(IpvsOptionsFrom(config));
    case ProxyMode::kNftables:
      return NewNftDataplane(NftOptionsFrom(config));
    case ProxyMode::kUserspace: {
      auto dp = NewUserspaceDataplane(UserspaceOptionsFrom(config));
      ExportUserspaceMetrics(static_cast<const UserspaceDataplane&>(*dp), metrics);
      return dp;
    }
  }
  return Status::Error("unknown proxy mode");
}

}  // namespace kpx
