#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace kpx {

// Everything kpx can be told, from flags and the KubeProxyConfiguration file. Field names follow
// the configuration file; defaults are kube-proxy's.
struct KpxConfig {
  std::string mode = "iptables";
  std::string config_file;
  std::string kubeconfig;
  std::string master;
  std::string source_dir;  // kpx's own: a manifest directory instead of an API server
  std::string hostname_override;
  std::vector<std::string> cluster_cidrs;
  std::string bind_address = "0.0.0.0";
  std::string healthz_bind_address = "0.0.0.0:10256";
  std::string metrics_bind_address = "127.0.0.1:10249";
  std::vector<std::string> nodeport_addresses;
  std::string detect_local_mode = "ClusterCIDR";
  bool cleanup = false;
  bool dry_run = false;  // kpx's own: print desired states, program nothing
  int32_t verbosity = 0;

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
  } iptables;

  struct Ipvs {
    std::string scheduler = "rr";
    std::chrono::milliseconds sync_period{30000};
    std::chrono::milliseconds min_sync_period{0};
    std::chrono::milliseconds tcp_timeout{0};
    std::chrono::milliseconds tcp_fin_timeout{0};
    std::chrono::milliseconds udp_timeout{0};
    bool strict_arp = false;
  } ipvs;

  struct Conntrack {
    int32_t max_per_core = 32768;
    int32_t min = 131072;
    std::chrono::milliseconds tcp_established_timeout{86400000};
    std::chrono::milliseconds tcp_close_wait_timeout{3600000};
  } conntrack;
};

}  // namespace kpx
