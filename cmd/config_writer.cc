#include "cmd/config_writer.h"

#include <yaml-cpp/yaml.h>

#include "cmd/duration.h"

namespace kpx {

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

std::string RenderConfigYaml(const KpxConfig& c) {
  YAML::Emitter y;
  y << YAML::BeginMap;
  y << YAML::Key << "apiVersion" << YAML::Value << "kubeproxy.config.k8s.io/v1alpha1";
  y << YAML::Key << "kind" << YAML::Value << "KubeProxyConfiguration";
  y << YAML::Key << "bindAddress" << YAML::Value << c.bind_address;
  y << YAML::Key << "bindAddressHardFail" << YAML::Value << c.bind_address_hard_fail;
  y << YAML::Key << "clientConnection" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "kubeconfig" << YAML::Value << c.kubeconfig;
  y << YAML::Key << "contentType" << YAML::Value << c.no_effect.kube_api_content_type;
  y << YAML::Key << "qps" << YAML::Value << c.no_effect.kube_api_qps;
  y << YAML::Key << "burst" << YAML::Value << c.no_effect.kube_api_burst;
  y << YAML::EndMap;
  y << YAML::Key << "clusterCIDR" << YAML::Value << Join(c.cluster_cidrs);
  y << YAML::Key << "configSyncPeriod" << YAML::Value
    << FormatGoDuration(c.no_effect.config_sync_period);
  y << YAML::Key << "conntrack" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "maxPerCore" << YAML::Value << c.conntrack.max_per_core;
  y << YAML::Key << "min" << YAML::Value << c.conntrack.min;
  y << YAML::Key << "tcpEstablishedTimeout" << YAML::Value
    << FormatGoDuration(c.conntrack.tcp_established_timeout);
  y << YAML::Key << "tcpCloseWaitTimeout" << YAML::Value
    << FormatGoDuration(c.conntrack.tcp_close_wait_timeout);
  y << YAML::Key << "tcpBeLiberal" << YAML::Value << c.conntrack.tcp_be_liberal;
  y << YAML::Key << "udpTimeout" << YAML::Value << FormatGoDuration(c.conntrack.udp_timeout);
  y << YAML::Key << "udpStreamTimeout" << YAML::Value
    << FormatGoDuration(c.conntrack.udp_stream_timeout);
  y << YAML::EndMap;
  y << YAML::Key << "detectLocalMode" << YAML::Value << c.detect_local_mode;
  y << YAML::Key << "detectLocal" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "bridgeInterface" << YAML::Value << c.detect_local.bridge_interface;
  y << YAML::Key << "interfaceNamePrefix" << YAML::Value << c.detect_local.interface_name_prefix;
  y << YAML::EndMap;
  y << YAML::Key << "enableProfiling" << YAML::Value << c.no_effect.profiling;
  y << YAML::Key << "featureGates" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, on] : c.feature_gates) y << YAML::Key << name << YAML::Value << on;
  y << YAML::EndMap;
  y << YAML::Key << "healthzBindAddress" << YAML::Value << c.healthz_bind_address;
  y << YAML::Key << "hostnameOverride" << YAML::Value << c.hostname_override;
  y << YAML::Key << "iptables" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "localhostNodePorts" << YAML::Value << c.iptables.localhost_nodeports;
  y << YAML::Key << "masqueradeAll" << YAML::Value << c.iptables.masquerade_all;
  y << YAML::Key << "masqueradeBit" << YAML::Value << c.iptables.masquerade_bit;
  y << YAML::Key << "minSyncPeriod" << YAML::Value << FormatGoDuration(c.iptables.min_sync_period);
  y << YAML::Key << "syncPeriod" << YAML::Value << FormatGoDuration(c.iptables.sync_period);
  y << YAML::EndMap;
  y << YAML::Key << "ipvs" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "excludeCIDRs" << YAML::Value << YAML::Flow << c.ipvs.exclude_cidrs;
  y << YAML::Key << "minSyncPeriod" << YAML::Value << FormatGoDuration(c.ipvs.min_sync_period);
  y << YAML::Key << "scheduler" << YAML::Value << c.ipvs.scheduler;
  y << YAML::Key << "strictARP" << YAML::Value << c.ipvs.strict_arp;
  y << YAML::Key << "syncPeriod" << YAML::Value << FormatGoDuration(c.ipvs.sync_period);
  y << YAML::Key << "tcpFinTimeout" << YAML::Value << FormatGoDuration(c.ipvs.tcp_fin_timeout);
  y << YAML::Key << "tcpTimeout" << YAML::Value << FormatGoDuration(c.ipvs.tcp_timeout);
  y << YAML::Key << "udpTimeout" << YAML::Value << FormatGoDuration(c.ipvs.udp_timeout);
  y << YAML::EndMap;
  y << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "format" << YAML::Value << c.no_effect.logging_format;
  y << YAML::Key << "verbosity" << YAML::Value << c.verbosity;
  y << YAML::EndMap;
  y << YAML::Key << "metricsBindAddress" << YAML::Value << c.metrics_bind_address;
  y << YAML::Key << "mode" << YAML::Value << std::string(ProxyModeName(c.mode));
  y << YAML::Key << "nodePortAddresses" << YAML::Value << YAML::Flow << c.nodeport_addresses;
  y << YAML::Key << "oomScoreAdj" << YAML::Value << c.oom_score_adj;
  y << YAML::Key << "showHiddenMetricsForVersion" << YAML::Value
    << c.no_effect.show_hidden_metrics_for_version;
  y << YAML::EndMap;
  return std::string(y.c_str()) + "\n";
}

}  // namespace kpx
