#include "cmd/node_sysctls.h"

#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace kpx {

NodeSysctls NodeSysctls::Proc() {
  auto read = [](const std::string& path) -> std::optional<std::string> {
    std::ifstream in("/proc/sys/" + path);
    std::string v;
    if (!(in >> v)) return std::nullopt;
    return v;
  };
  auto write = [](const std::string& path, const std::string& value) {
    std::ofstream out("/proc/sys/" + path);
    out << value << "\n";
    out.flush();
    return static_cast<bool>(out);
  };
  return NodeSysctls(read, write, static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
}

bool NodeSysctls::SetIfDifferent(const std::string& path, const std::string& value,
                                 bool only_raise) {
  const auto current = read_(path);
  if (current && *current == value) return false;
  if (only_raise && current) {
    try {
      if (std::stoll(*current) >= std::stoll(value)) return false;
    } catch (const std::exception&) {
    }
  }
  if (!write_(path, value)) {
    LOG(WARNING) << "cannot set " << path << " to " << value << " (have " << current.value_or("?")
                 << "); continuing without it";
    return false;
  }
  LOG(INFO) << "set " << path << " to " << value;
  return true;
}

int NodeSysctls::Apply(const KpxConfig& config) {
  int written = 0;
  const auto& ct = config.conntrack;
  if (ct.max_per_core > 0) {
    const long long want =
        std::max<long long>(static_cast<long long>(ct.max_per_core) * cpus_, ct.min);
    // Never lower a limit someone raised on purpose.
    written += SetIfDifferent("net/netfilter/nf_conntrack_max", std::to_string(want), true);
  }
  if (ct.tcp_established_timeout.count() > 0) {
    written += SetIfDifferent("net/netfilter/nf_conntrack_tcp_timeout_established",
                              std::to_string(ct.tcp_established_timeout.count() / 1000), false);
  }
  if (ct.tcp_close_wait_timeout.count() > 0) {
    written += SetIfDifferent("net/netfilter/nf_conntrack_tcp_timeout_close_wait",
                              std::to_string(ct.tcp_close_wait_timeout.count() / 1000), false);
  }
  if (ct.tcp_be_liberal) {
    written += SetIfDifferent("net/netfilter/nf_conntrack_tcp_be_liberal", "1", false);
  }
  if (ct.udp_timeout.count() > 0) {
    written += SetIfDifferent("net/netfilter/nf_conntrack_udp_timeout",
                              std::to_string(ct.udp_timeout.count() / 1000), false);
  }
  if (ct.udp_stream_timeout.count() > 0) {
    written += SetIfDifferent("net/netfilter/nf_conntrack_udp_timeout_stream",
                              std::to_string(ct.udp_stream_timeout.count() / 1000), false);
  }
  if (config.mode == ProxyMode::kIptables && config.iptables.localhost_nodeports) {
    written += SetIfDifferent("net/ipv4/conf/all/route_localnet", "1", false);
  }
  // kube-proxy's --ipvs-strict-arp: service IPs on kube-ipvs0 must not be answered for by ARP.
  if (config.mode == ProxyMode::kIpvs && config.ipvs.strict_arp) {
    written += SetIfDifferent("net/ipv4/conf/all/arp_ignore", "1", false);
    written += SetIfDifferent("net/ipv4/conf/all/arp_announce", "2", false);
  }
  return written;
}

}  // namespace kpx
