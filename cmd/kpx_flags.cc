#include "cmd/kpx_flags.h"

#include "k8s-watch/objects/cidr.h"
#include "k8s-watch/objects/ip_address.h"

namespace kpx {

void RegisterKpxFlags(FlagSet& f, KpxConfig& c) {
  f.String("mode", &c.mode, "Which proxy mode to use: iptables, ipvs, nftables or userspace.");
  f.String("config", &c.config_file, "Path to a KubeProxyConfiguration file; flags override it.");
  f.String("kubeconfig", &c.kubeconfig,
           "Path to a kubeconfig file with authorization information.");
  f.String("master", &c.master, "The address of the Kubernetes API server (overrides kubeconfig).");
  f.String("source", &c.source_dir,
           "Read Services, EndpointSlices and the Node from manifests in this directory (followed "
           "with inotify) instead of an API server.");
  f.String("hostname-override", &c.hostname_override,
           "If non-empty, use this string as the node's name instead of the host name.");
  f.StringList(
      "cluster-cidr", &c.cluster_cidrs,
      "The CIDR range(s) of pods in the cluster; traffic from outside them is masqueraded.");
  f.String("bind-address", &c.bind_address, "The IP address for the proxy server to serve on.");
  f.String("healthz-bind-address", &c.healthz_bind_address,
           "The IP:port for the health check server to serve on.");
  f.String("metrics-bind-address", &c.metrics_bind_address,
           "The IP:port for the metrics server to serve on.");
  f.StringList("nodeport-addresses", &c.nodeport_addresses,
               "CIDRs of the node addresses that accept NodePort traffic, or \"primary\".");
  f.String("detect-local-mode", &c.detect_local_mode, "How to tell local traffic: ClusterCIDR.");
  f.Bool("cleanup", &c.cleanup, "Remove every rule kpx created, then exit.");
  f.Bool("dry-run", &c.dry_run,
         "Print the desired state after every sync instead of programming the kernel.");
  f.Int("v", &c.verbosity, "Log level verbosity.");
  f.Duration("sync-period", &c.iptables.sync_period,
             "How often rules are fully refreshed (e.g. 30s, 1m). Must be > 0.");
  f.Alias("iptables-sync-period", "sync-period");
  f.Duration("min-sync-period", &c.iptables.min_sync_period,
             "The minimum time between rule refreshes (e.g. 1s, 250ms).");
  f.Alias("iptables-min-sync-period", "min-sync-period");
  f.Bool("masquerade-all", &c.iptables.masquerade_all,
         "SNAT all traffic sent via Service cluster IPs.");
  f.Int("iptables-masquerade-bit", &c.iptables.masquerade_bit,
        "The bit of the fwmark space that marks packets to SNAT, in [0, 31].");
  f.Bool("iptables-localhost-nodeports", &c.iptables.localhost_nodeports,
         "Accept NodePort connections on 127.0.0.1. Off by default in kpx (kube-proxy: on): it "
         "needs route_localnet, which exposes localhost-bound services to the network.");
  f.String("iptables-backend", &c.iptables.backend,
           "How iptables rules are applied: auto, nft, legacy or libiptc.");
  f.String("iptables-dispatch", &c.iptables.dispatch,
           "Service dispatch layout: linear (kube-proxy's) or prefix-tree (sub-linear).");
  f.String("ipvs-scheduler", &c.ipvs.scheduler,
           "The IPVS scheduler: rr, wrr, lc, wlc, sh, mh, ...");
  f.Duration("ipvs-sync-period", &c.ipvs.sync_period, "How often IPVS rules are fully refreshed.");
  f.Duration("ipvs-min-sync-period", &c.ipvs.min_sync_period,
             "The minimum time between IPVS rule refreshes.");
  f.Duration("ipvs-tcp-timeout", &c.ipvs.tcp_timeout, "Timeout for idle IPVS TCP connections.");
  f.Duration("ipvs-tcpfin-timeout", &c.ipvs.tcp_fin_timeout,
             "Timeout for IPVS TCP connections after a FIN.");
  f.Duration("ipvs-udp-timeout", &c.ipvs.udp_timeout, "Timeout for IPVS UDP packets.");
  f.Bool("ipvs-strict-arp", &c.ipvs.strict_arp, "Set arp_ignore=1 and arp_announce=2.");
  f.Int("conntrack-max-per-core", &c.conntrack.max_per_core,
        "Maximum conntrack entries per CPU core (0: leave as is).");
  f.Int("conntrack-min", &c.conntrack.min, "Minimum conntrack entries, whatever the cores.");
  f.Duration("conntrack-tcp-timeout-established", &c.conntrack.tcp_established_timeout,
             "Idle timeout for established TCP connections (0: leave as is).");
  f.Duration("conntrack-tcp-timeout-close-wait", &c.conntrack.tcp_close_wait_timeout,
             "Timeout for TCP connections in CLOSE_WAIT (0: leave as is).");
}

namespace {

Status CheckHostPort(const std::string& flag, const std::string& value) {
  if (value.empty()) return Status::Ok();  // disabled
  const auto colon = value.rfind(':');
  if (colon == std::string::npos)
    return Status::Error(flag + ": want IP:port, got \"" + value + "\"");
  std::string host = value.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!IpAddress::Parse(host)) {
    return Status::Error(flag + ": \"" + host + "\" is not an IP address");
  }
  const std::string port = value.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return Status::Error(flag + ": \"" + port + "\" is not a port");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateConfig(const KpxConfig& c) {
  if (c.mode != "iptables" && c.mode != "ipvs" && c.mode != "userspace" && c.mode != "nftables") {
    return Status::Error("mode: unknown proxy mode \"" + c.mode +
                         "\" (want iptables, ipvs, nftables or userspace)");
  }
  for (const auto& cidr : c.cluster_cidrs) {
    if (!Cidr::Parse(cidr)) return Status::Error("clusterCIDR: \"" + cidr + "\" is not a CIDR");
  }
  for (const auto& a : c.nodeport_addresses) {
    if (a != "primary" && !Cidr::Parse(a)) {
      return Status::Error("nodePortAddresses: \"" + a + "\" is not a CIDR or \"primary\"");
    }
  }
  if (!IpAddress::Parse(c.bind_address)) {
    return Status::Error("bindAddress: \"" + c.bind_address + "\" is not an IP address");
  }
  if (Status s = CheckHostPort("healthzBindAddress", c.healthz_bind_address); !s.ok()) return s;
  if (Status s = CheckHostPort("metricsBindAddress", c.metrics_bind_address); !s.ok()) return s;
  if (c.detect_local_mode != "ClusterCIDR" && c.detect_local_mode != "NodeCIDR" &&
      c.detect_local_mode != "") {
    return Status::Error("detectLocalMode: \"" + c.detect_local_mode +
                         "\" is not supported (want ClusterCIDR or NodeCIDR)");
  }
  if (c.iptables.sync_period.count() <= 0) {
    return Status::Error("iptables.syncPeriod: must be greater than 0");
  }
  if (c.iptables.min_sync_period.count() < 0 ||
      c.iptables.min_sync_period > c.iptables.sync_period) {
    return Status::Error("iptables.minSyncPeriod: must be between 0 and syncPeriod");
  }
  if (c.iptables.masquerade_bit < 0 || c.iptables.masquerade_bit > 31) {
    return Status::Error("iptables.masqueradeBit: " + std::to_string(c.iptables.masquerade_bit) +
                         " is not in [0, 31]");
  }
  const std::string& b = c.iptables.backend;
  if (b != "auto" && b != "nft" && b != "legacy" && b != "libiptc") {
    return Status::Error("iptables backend: \"" + b + "\" (want auto, nft, legacy or libiptc)");
  }
  if (c.iptables.dispatch != "linear" && c.iptables.dispatch != "prefix-tree") {
    return Status::Error("iptables dispatch: \"" + c.iptables.dispatch +
                         "\" (want linear or prefix-tree)");
  }
  if (c.ipvs.sync_period.count() <= 0) {
    return Status::Error("ipvs.syncPeriod: must be greater than 0");
  }
  if (c.ipvs.min_sync_period > c.ipvs.sync_period) {
    return Status::Error("ipvs.minSyncPeriod: must not exceed ipvs.syncPeriod");
  }
  if (c.verbosity < 0 || c.verbosity > 10) return Status::Error("v: must be in [0, 10]");
  return Status::Ok();
}

}  // namespace kpx
