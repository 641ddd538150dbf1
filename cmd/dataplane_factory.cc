#include "cmd/dataplane_factory.h"

#include "k8s-watch/objects/cidr.h"
#include "proxier/iptables/iptables_dataplane_factory.h"
#include "proxier/ipvs/ipvs_dataplane_factory.h"
#include "proxier/printing_dataplane.h"

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
  for (const auto& a : config.nodeport_addresses) {
    if (auto c = Cidr::Parse(a)) o.node_port_addresses.push_back(*c);
  }
  o.masquerade_all = config.iptables.masquerade_all;
  o.masquerade_bit = config.iptables.masquerade_bit;
  for (const auto& c : config.cluster_cidrs) o.cluster_cidrs.push_back(*Cidr::Parse(c));
  o.iptables_backend = config.iptables.backend == "libiptc" ? "legacy" : config.iptables.backend;
  return o;
}

}  // namespace

Result<std::unique_ptr<Dataplane>> MakeDataplane(const KpxConfig& config, std::ostream& out,
                                                 MetricsRegistry& metrics) {
  if (config.dry_run) {
    if (config.cleanup) return Status::Error("--cleanup and --dry-run exclude each other");
    return std::unique_ptr<Dataplane>(std::make_unique<PrintingDataplane>(out));
  }
  if (config.mode == "iptables") {
    auto options = IptablesOptionsFrom(config);
    if (!options.ok()) return options.status();
    return NewIptablesDataplane(*options);
  }
  if (config.mode == "ipvs") return NewIpvsDataplane(IpvsOptionsFrom(config));
  return Status::Error("proxy mode \"" + config.mode +
                       "\" is not available in this build yet; use --mode=iptables, or "
                       "--dry-run to print the desired state");
}

}  // namespace kpx
