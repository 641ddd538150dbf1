#include "cmd/kpx_flags.h"

#include <algorithm>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "cmd/bind_address.h"
#include "cmd/feature_gates.h"

namespace kpx {

namespace {

void NoteIgnored(KpxConfig& c, const std::string& what) {
  if (std::find(c.ignored_settings.begin(), c.ignored_settings.end(), what) ==
      c.ignored_settings.end()) {
    c.ignored_settings.push_back(what);
  }
}

// A flag kube-proxy has (or had) that means nothing for kpx on Linux: accepted with any value of
// its type and logged at start.
void Ignored(FlagSet& f, KpxConfig& c, const std::string& name, bool is_bool,
             const std::string& why) {
  f.Func(
      name, is_bool, "",
      [&c, name, why](const std::string&) {
        NoteIgnored(c, "--" + name + " (" + why + ")");
        return Status::Ok();
      },
      "Accepted for kube-proxy compatibility; " + why + ".");
}

// --healthz-bind-address and --metrics-bind-address take "IP" or "IP:port" as kube-proxy's
// IPPortVar does; a bare IP gets the default port.
void BindAddressFlag(FlagSet& f, const std::string& name, std::string* target, int port,
                     const std::string& help) {
  f.Func(
      name, false, *target,
      [target, port](const std::string& v) {
        *target = AppendPortIfNeeded(v, port);
        return Status::Ok();
      },
      help);
}

}  // namespace

std::string UnknownDetectLocalMode(const std::string& value) {
  return "detectLocalMode: \"" + value +
         "\" is not supported (want ClusterCIDR, NodeCIDR, BridgeInterface or "
         "InterfaceNamePrefix)";
}

void RegisterKpxFlags(FlagSet& f, KpxConfig& c) {
  f.Func(
      "mode", false, "iptables",
      [&c](const std::string& v) {
        auto m = ParseProxyMode(v);
        if (!m) {
          return Status::Error("mode: unknown proxy mode \"" + v +
                               "\" (want iptables, ipvs, nftables or userspace)");
        }
        c.mode = *m;
        return Status::Ok();
      },
      "Which proxy mode to use: iptables, ipvs, nftables or userspace.");
  f.Alias("proxy-mode", "mode");
  f.String("config", &c.config_file, "Path to a KubeProxyConfiguration file; flags override it.");
  f.String("write-config-to", &c.write_config_to,
           "Write the effective configuration (defaults, file and flags) to this file and exit.");
  f.Bool("init-only", &c.init_only,
         "Make the node settings that need full root privileges (sysctls), then exit.");
  f.Func(
      "feature-gates", false, "",
      [&c](const std::string& v) { return FeatureGates::ParseFlag(v, &c.feature_gates); },
      "Feature gates as key=value pairs (e.g. TopologyAwareHints=true); unknown gates are an "
      "error, as in kube-proxy.");
  f.String("kubeconfig", &c.kubeconfig,
           "Path to a kubeconfig file with authorization information.");
  f.String("master", &c.master, "The address of the Kubernetes API server (overrides kubeconfig).");
  f.String("kube-api-content-type", &c.no_effect.kube_api_content_type,
           "Accepted for kube-proxy compatibility; kpx always asks for JSON.");
  f.Int("kube-api-burst", &c.no_effect.kube_api_burst,
        "Accepted for kube-proxy compatibility; kpx makes one list+watch per resource.");
  f.Float("kube-api-qps", &c.no_effect.kube_api_qps,
          "Accepted for kube-proxy compatibility; kpx makes one list+watch per resource.");
  f.String("source", &c.source_dir,
           "Read Services, EndpointSlices and the Node from manifests in this directory (followed "
           "with inotify) instead of an API server.");
  f.String("hostname-override", &c.hostname_override,
           "If non-empty, use this string as the node's name instead of the host name.");
  f.StringList(
      "cluster-cidr", &c.cluster_cidrs,
      "The CIDR range(s) of pods in the cluster; traffic from outside them is masqueraded.");
  f.String("bind-address", &c.bind_address,
           "The node's primary IP family/address (kube-proxy's historical name; nothing binds to "
           "it).");
  BindAddressFlag(f, "healthz-bind-address", &c.healthz_bind_address, kHealthzPort,
                  "IP or IP:port for the health check server (port 10256 if omitted); empty "
                  "disables it.");
  BindAddressFlag(f, "metrics-bind-address", &c.metrics_bind_address, kMetricsPort,
                  "IP or IP:port for the metrics server (port 10249 if omitted); empty disables "
                  "it.");
  f.Int("healthz-port", &c.deprecated_ports.healthz,
        "Deprecated (use --healthz-bind-address): 0 disables the health check server.");
  f.Int("metrics-port", &c.deprecated_ports.metrics,
        "Deprecated (use --metrics-bind-address): 0 disables the metrics server.");
  f.Bool("bind-address-hard-fail", &c.bind_address_hard_fail,
         "Exit when the health or metrics server cannot bind its address.");
  f.StringList("nodeport-addresses", &c.nodeport_addresses,
               "CIDRs of the node addresses that accept NodePort traffic, or \"primary\".");
  f.Func(
      "detect-local-mode", false, "ClusterCIDR",
      [&c](const std::string& v) {
        auto m = ParseLocalDetectMode(v);
        if (!m) return Status::Error(UnknownDetectLocalMode(v));
        c.detect_local_mode = *m;
        return Status::Ok();
      },
      "How to tell pod traffic: ClusterCIDR, NodeCIDR, BridgeInterface or "
      "InterfaceNamePrefix.");
  f.String("pod-bridge-interface", &c.detect_local.bridge_interface,
           "With --detect-local-mode=BridgeInterface: traffic from this bridge is local.");
  f.String("pod-interface-name-prefix", &c.detect_local.interface_name_prefix,
           "With --detect-local-mode=InterfaceNamePrefix: traffic from interfaces named with "
           "this prefix is local.");
  f.Int("oom-score-adj", &c.oom_score_adj,
        "Written to /proc/self/oom_score_adj at start, in [-1000, 1000].");
  f.Bool("cleanup", &c.cleanup, "Remove every rule kpx created, then exit.");
  f.Bool("dry-run", &c.dry_run,
         "Print the desired state after every sync instead of programming the kernel.");
  f.Func(
      "version", true, "false",
      [&c](const std::string& v) {
        c.version_request =
            (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False") ? ""
                                                                                               : v;
        return Status::Ok();
      },
      "Print the version and exit (--version=raw for the detailed form).");

  // Logging (component-base's logsapi flags; kpx logs klog-style text through glog).
  f.Int("v", &c.verbosity, "Log level verbosity.");
  f.Shorthand('v', "v");
  f.String("vmodule", &c.vmodule, "Per-file verbosity, pattern=N,... (e.g. iptables*=4).");
  f.Func(
      "logging-format", false, "text",
      [&c](const std::string& v) {
        c.no_effect.logging_format = v;
        return Status::Ok();
      },
      "text (kpx writes klog's text format; json is accepted and logged).");
  f.Duration("log-flush-frequency", &c.no_effect.log_flush_frequency,
             "Accepted for kube-proxy compatibility; kpx writes log lines unbuffered.");
  Ignored(f, c, "log-text-split-stream", true, "kpx writes all log lines to stderr");
  Ignored(f, c, "log-text-info-buffer-size", false, "kpx writes log lines unbuffered");
  Ignored(f, c, "log-json-split-stream", true, "kpx writes all log lines to stderr");
  Ignored(f, c, "log-json-info-buffer-size", false, "kpx writes log lines unbuffered");

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
  f.Duration("iptables-full-sync-period", &c.iptables.full_sync_period,
             "kpx: how often a periodic sync rewrites every chain (kube-proxy: 1h). Between them "
             "periodic syncs are partial and repair flushed tables through a canary chain.");
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
  f.StringList("ipvs-exclude-cidrs", &c.ipvs.exclude_cidrs,
               "CIDRs whose IPVS virtual servers kpx never removes.");
  f.Int("conntrack-max-per-core", &c.conntrack.max_per_core,
        "Maximum conntrack entries per CPU core (0: leave as is).");
  f.Int("conntrack-min", &c.conntrack.min, "Minimum conntrack entries, whatever the cores.");
  f.Duration("conntrack-tcp-timeout-established", &c.conntrack.tcp_established_timeout,
             "Idle timeout for established TCP connections (0: leave as is).");
  f.Duration("conntrack-tcp-timeout-close-wait", &c.conntrack.tcp_close_wait_timeout,
             "Timeout for TCP connections in CLOSE_WAIT (0: leave as is).");
  f.Bool("conntrack-tcp-be-liberal", &c.conntrack.tcp_be_liberal,
         "Set nf_conntrack_tcp_be_liberal to 1.");
  f.Duration("conntrack-udp-timeout", &c.conntrack.udp_timeout,
             "Idle timeout for UNREPLIED UDP connections (0: leave as is).");
  f.Duration("conntrack-udp-timeout-stream", &c.conntrack.udp_stream_timeout,
             "Idle timeout for ASSURED UDP connections (0: leave as is).");
  f.Duration("config-sync-period", &c.no_effect.config_sync_period,
             "Accepted for kube-proxy compatibility; kpx's watches need no periodic resync.");
  f.Bool("profiling", &c.no_effect.profiling,
         "Accepted for kube-proxy compatibility; kpx has no Go pprof handler.");
  f.String("show-hidden-metrics-for-version", &c.no_effect.show_hidden_metrics_for_version,
           "Accepted for kube-proxy compatibility; kpx hides no metrics.");

  // Windows only.
  f.Bool("windows-service", &c.no_effect.windows_service,
         "Windows only; accepted and logged on Linux.");
  // Removed from kube-proxy (still found in older manifests): accepted and logged.
  Ignored(f, c, "proxy-port-range", false, "removed from kube-proxy with the userspace proxy");
  Ignored(f, c, "udp-timeout", false, "removed from kube-proxy with the userspace proxy");
  Ignored(f, c, "resource-container", false, "removed from kube-proxy");
  Ignored(f, c, "conntrack-max", false, "removed from kube-proxy; use --conntrack-max-per-core");
  Ignored(f, c, "cleanup-iptables", true, "removed from kube-proxy; use --cleanup");
  Ignored(f, c, "cleanup-ipvs", true, "removed from kube-proxy; use --cleanup");
  Ignored(f, c, "azure-container-registry-config", false, "removed from kube-proxy");
  // klog's own flags, removed from Kubernetes components in 1.26.
  for (const char* name : {"logtostderr", "alsologtostderr", "one-output", "skip-headers",
                           "skip-log-headers", "add-dir-header"}) {
    Ignored(f, c, name, true, "a klog flag removed from kube-proxy; kpx logs to stderr");
  }
  for (const char* name :
       {"log-dir", "log-file", "log-file-max-size", "log-backtrace-at", "stderrthreshold"}) {
    Ignored(f, c, name, false, "a klog flag removed from kube-proxy; kpx logs to stderr");
  }
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
  for (const auto& cidr : c.cluster_cidrs) {
    if (!Cidr::Parse(cidr)) return Status::Error("clusterCIDR: \"" + cidr + "\" is not a CIDR");
  }
  for (const auto& a : c.nodeport_addresses) {
    if (a != "primary" && !Cidr::Parse(a)) {
      return Status::Error("nodePortAddresses: \"" + a + "\" is not a CIDR or \"primary\"");
    }
  }
  if (std::count(c.nodeport_addresses.begin(), c.nodeport_addresses.end(), "primary") > 0 &&
      c.nodeport_addresses.size() > 1) {
    return Status::Error("nodePortAddresses: \"primary\" cannot be combined with CIDRs");
  }
  if (!IpAddress::Parse(c.bind_address)) {
    return Status::Error("bindAddress: \"" + c.bind_address + "\" is not an IP address");
  }
  if (Status s = CheckHostPort("healthzBindAddress", c.healthz_bind_address); !s.ok()) return s;
  if (Status s = CheckHostPort("metricsBindAddress", c.metrics_bind_address); !s.ok()) return s;
  const LocalDetectMode dl = c.detect_local_mode;
  if (dl == LocalDetectMode::kBridgeInterface && c.detect_local.bridge_interface.empty()) {
    return Status::Error(
        "detectLocal.bridgeInterface: must be set with detectLocalMode BridgeInterface");
  }
  if (dl == LocalDetectMode::kInterfaceNamePrefix && c.detect_local.interface_name_prefix.empty()) {
    return Status::Error(
        "detectLocal.interfaceNamePrefix: must be set with detectLocalMode InterfaceNamePrefix");
  }
  // Interface names hold at most 15 bytes (IFNAMSIZ - 1); a longer one can never match.
  if (dl == LocalDetectMode::kBridgeInterface && c.detect_local.bridge_interface.size() > 15) {
    return Status::Error("detectLocal.bridgeInterface: \"" + c.detect_local.bridge_interface +
                         "\" is longer than an interface name (15 bytes)");
  }
  if (dl == LocalDetectMode::kInterfaceNamePrefix &&
      c.detect_local.interface_name_prefix.size() > 15) {
    return Status::Error("detectLocal.interfaceNamePrefix: \"" +
                         c.detect_local.interface_name_prefix +
                         "\" is longer than an interface name (15 bytes)");
  }
  if (c.oom_score_adj < -1000 || c.oom_score_adj > 1000) {
    return Status::Error("oomScoreAdj: " + std::to_string(c.oom_score_adj) +
                         " is not in [-1000, 1000]");
  }
  if (Status s = FeatureGates::Validate(c.feature_gates); !s.ok()) {
    return Status::Error("featureGates: " + s.message());
  }
  if (c.iptables.sync_period.count() <= 0) {
    return Status::Error("iptables.syncPeriod: must be greater than 0");
  }
  if (c.iptables.min_sync_period.count() < 0 ||
      c.iptables.min_sync_period > c.iptables.sync_period) {
    return Status::Error("iptables.minSyncPeriod: must be between 0 and syncPeriod");
  }
  if (c.iptables.full_sync_period.count() < 0) {
    return Status::Error("iptables-full-sync-period: must not be negative");
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
  for (const auto& cidr : c.ipvs.exclude_cidrs) {
    if (!Cidr::Parse(cidr)) {
      return Status::Error("ipvs.excludeCIDRs: \"" + cidr + "\" is not a CIDR");
    }
  }
  if (c.conntrack.max_per_core < 0) return Status::Error("conntrack.maxPerCore: must be >= 0");
  if (c.conntrack.min < 0) return Status::Error("conntrack.min: must be >= 0");
  for (const auto& [field, d] :
       {std::pair{"conntrack.tcpEstablishedTimeout", c.conntrack.tcp_established_timeout},
        std::pair{"conntrack.tcpCloseWaitTimeout", c.conntrack.tcp_close_wait_timeout},
        std::pair{"conntrack.udpTimeout", c.conntrack.udp_timeout},
        std::pair{"conntrack.udpStreamTimeout", c.conntrack.udp_stream_timeout}}) {
    if (d.count() < 0) return Status::Error(std::string(field) + ": must be >= 0");
  }
  if (c.no_effect.logging_format != "text" && c.no_effect.logging_format != "json") {
    return Status::Error("logging.format: unsupported value \"" + c.no_effect.logging_format +
                         "\" (want text or json)");
  }
  if (c.verbosity < 0 || c.verbosity > 10) return Status::Error("v: must be in [0, 10]");
  return Status::Ok();
}

}  // namespace kpx
