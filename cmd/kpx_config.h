#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cmd/proxy_mode.h"
#include "proxier/netfilter/local_traffic_detector.h"

namespace kpx {

// Everything kpx can be told, from flags and the KubeProxyConfiguration file. Field names follow
// the configuration file; defaults are kube-proxy's (v1alpha1 defaults.go) unless noted.
struct KpxConfig {
  ProxyMode mode = ProxyMode::kIptables;
  std::string config_file;
  std::string write_config_to;  // --write-config-to: write the effective configuration, exit
  bool init_only = false;       // --init-only: privileged node setup (sysctls), then exit
  std::string kubeconfig;
  std::string master;
  std::string source_dir;  // kpx's own: a manifest directory instead of an API server
  std::string hostname_override;
  std::vector<std::string> cluster_cidrs;
  std::string bind_address = "0.0.0.0";
  std::string healthz_bind_address = "0.0.0.0:10256";
  std::string metrics_bind_address = "127.0.0.1:10249";
  // kube-proxy's deprecated --healthz-port/--metrics-port: 0 disables the server.
  struct DeprecatedPorts {
    int32_t healthz = 10256;
    int32_t metrics = 10249;
  } deprecated_ports;
  // A listener that cannot bind stops kpx instead of being logged.
  bool bind_address_hard_fail = false;
  std::vector<std::string> nodeport_addresses;
  // Parsed once from --detect-local-mode / detectLocalMode ("" is ClusterCIDR, as kube-proxy).
  LocalDetectMode detect_local_mode = LocalDetectMode::kClusterCidr;
  struct DetectLocal {
    std::string bridge_interface;
    std::string interface_name_prefix;
  } detect_local;
  // Written to /proc/self/oom_score_adj at start (kube-proxy's qos.KubeProxyOOMScoreAdj).
  int32_t oom_score_adj = -999;
  // --feature-gates / featureGates, validated against kube-proxy's known gates.
  std::map<std::string, bool> feature_gates;
  bool cleanup = false;
  bool dry_run = false;         // kpx's own: print desired states, program nothing
  std::string version_request;  // --version[=raw]: print the version, exit
  int32_t verbosity = 0;
  std::string vmodule;  // glog's --vmodule, same "pattern=N,..." syntax as klog

  struct Iptables {
    std::chrono::milliseconds sync_period{30000};
    std::chrono::milliseconds min_sync_period{1000};
    bool masquerade_all = false;
    int32_t masquerade_bit = 14;
    // kube-proxy defaults to true; kpx does not, because route_localnet=1 lets off-node packets
    // reach services bound to 127.0.0.1 (CVE-2020-8558's class of problem).
    bool localhost_nodeports = false;
    std::string backend = "auto";     // auto | nft | legacy | libiptc
    std::string dispatch = "linear";  // linear | prefix-tree (kpx's sub-linear layout)
    // Periodic syncs are partial; every chain is rewritten this often (kube-proxy: 1 h, fixed).
    std::chrono::milliseconds full_sync_period{3600000};
  } iptables;

  struct Ipvs {
    std::string scheduler = "rr";
    std::chrono::milliseconds sync_period{30000};
    std::chrono::milliseconds min_sync_period{0};
    std::chrono::milliseconds tcp_timeout{0};
    std::chrono::milliseconds tcp_fin_timeout{0};
    std::chrono::milliseconds udp_timeout{0};
    bool strict_arp = false;
    std::vector<std::string> exclude_cidrs;
  } ipvs;

  struct Conntrack {
    int32_t max_per_core = 32768;
    int32_t min = 131072;
    std::chrono::milliseconds tcp_established_timeout{86400000};
    std::chrono::milliseconds tcp_close_wait_timeout{3600000};
    bool tcp_be_liberal = false;
    std::chrono::milliseconds udp_timeout{0};
    std::chrono::milliseconds udp_stream_timeout{0};
  } conntrack;

  // Settings kube-proxy has that change nothing in kpx (client tuning for Go's client, pprof,
  // log buffering). Kept so that they are type-checked like kube-proxy does and logged at start.
  struct NoEffect {
    std::string kube_api_content_type = "application/vnd.kubernetes.protobuf";
    float kube_api_qps = 5;
    int32_t kube_api_burst = 10;
    std::chrono::milliseconds config_sync_period{15 * 60 * 1000};
    bool profiling = false;
    std::string show_hidden_metrics_for_version;
    std::string logging_format = "text";
    std::chrono::milliseconds log_flush_frequency{5000};
    bool windows_service = false;
  } no_effect;
  // Flags and fields that were given but have no effect on Linux or were removed from
  // kube-proxy; each is logged once at start.
  std::vector<std::string> ignored_settings;
};

}  // namespace kpx
