#include "cmd/dataplane_factory.h"

#include "base/cidr.h"
#include "proxier/iptables/iptables_dataplane_factory.h"
#include "proxier/ipvs/ipvs_dataplane_factory.h"
#include "proxier/netfilter/iptables_backend.h"
#include "proxier/printing_dataplane.h"
#include "proxier/userspace/userspace_dataplane.h"
#include "proxier/userspace/userspace_dataplane_factory.h"

namespace kpx {

namespace {

Result<IptablesOptions> IptablesOptionsFrom(const KpxConfig& config) {
  IptablesOptions o;
  auto backend = ParseIptablesBackend(config.iptables.backend);
  if (!backend) return Status::Error("unknown iptables backend " + config.iptables.backend);
  o.backend = *backend;
  o.masquerade_all = config.iptables.masquerade_all;
  o.masquerade_bit = config.iptables.masquerade_bit;
  for (const auto& c : config.cluster_cidrs) o.cluster_cidrs.push_back(*Cidr::Parse(c));
  if (config.detect_local_mode == "NodeCIDR") {
    o.local_detect = LocalDetectMode::kNodeCidr;
  } else {
    // kube-proxy: ClusterCIDR mode without a cluster CIDR detects nothing.
    o.local_detect =
        o.cluster_cidrs.empty() ? LocalDetectMode::kNone : LocalDetectMode::kClusterCidr;
  }
  for (const auto& a : config.nodeport_addresses) {
    if (auto c = Cidr::Parse(a)) o.node_port_addresses.push_back(*c);
  }
  o.localhost_nodeports = config.iptables.localhost_nodeports;
  o.dispatch =
      config.iptables.dispatch == "prefix-tree" ? DispatchMode::kPrefixTree : DispatchMode::kLinear;
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
  for (const auto& a : config.nodeport_addresses) {
    if (auto c = Cidr::Parse(a)) o.node_port_addresses.push_back(*c);
  }
  o.masquerade_all = config.iptables.masquerade_all;
  o.masquerade_bit = config.iptables.masquerade_bit;
  for (const auto& c : config.cluster_cidrs) o.cluster_cidrs.push_back(*Cidr::Parse(c));
  o.iptables_backend = config.iptables.backend == "libiptc" ? "legacy" : config.iptables.backend;
  return o;
}

UserspaceOptions UserspaceOptionsFrom(const KpxConfig& config) {
  UserspaceOptions o;
  if (auto backend = ParseIptablesBackend(config.iptables.backend)) o.backend = *backend;
  return o;
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
      return NewIptablesDataplane(*options);
    }
    case ProxyMode::kIpvs:
      return NewIpvsDataplane(IpvsOptionsFrom(config));
    case ProxyMode::kUserspace: {
      auto dp = NewUserspaceDataplane(UserspaceOptionsFrom(config));
      ExportUserspaceMetrics(static_cast<const UserspaceDataplane&>(*dp), metrics);
      return dp;
    }
  }
  return Status::Error("unknown proxy mode");
}

}  // namespace kpx
