#include "cmd/config_file.h"

#include <glog/logging.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "cmd/duration.h"

namespace kpx {

namespace {

// Thrown inside the parser only; turned into a Status at the boundary.
struct FieldError {
  std::string message;
};

std::string Join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string Scalar(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) throw FieldError{field + ": expected a scalar value"};
  return n.Scalar();
}

bool ParseBool(const YAML::Node& n, const std::string& field) {
  const std::string v = Scalar(n, field);
  if (v == "true" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "False" || v == "FALSE") return false;
  throw FieldError{field + ": \"" + v + "\" is not a boolean"};
}

int32_t ParseInt(const YAML::Node& n, const std::string& field) {
  const std::string v = Scalar(n, field);
  try {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used != v.size() || x < INT32_MIN || x > INT32_MAX) throw std::out_of_range(v);
    return static_cast<int32_t>(x);
  } catch (const std::exception&) {
    throw FieldError{field + ": \"" + v + "\" is not an integer"};
  }
}

std::chrono::milliseconds ParseDuration(const YAML::Node& n, const std::string& field) {
  const std::string v = Scalar(n, field);
  auto d = ParseGoDuration(v);
  if (!d) throw FieldError{field + ": \"" + v + "\" is not a duration (e.g. 30s, 1m)"};
  return *d;
}

std::vector<std::string> ParseStringList(const YAML::Node& n, const std::string& field) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (!n.IsSequence()) throw FieldError{field + ": expected a list"};
  for (size_t i = 0; i < n.size(); ++i) {
    out.push_back(Scalar(n[i], field + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::vector<std::string> SplitComma(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream in(v);
  std::string part;
  while (std::getline(in, part, ',')) {
    const auto b = part.find_first_not_of(' ');
    const auto e = part.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
  }
  return out;
}

// kube-proxy's defaulting treats zero values ("" and 0s) as "use the default"; kubeadm writes them.
void SetIfNonEmpty(std::string& field, const std::string& v) {
  if (!v.empty()) field = v;
}
void SetIfPositive(std::chrono::milliseconds& field, std::chrono::milliseconds v) {
  if (v.count() > 0) field = v;
}

using Setter = std::function<void(const YAML::Node&, const std::string& field, KpxConfig&)>;

// Fields kpx acts on, by their path in the file.
const std::map<std::string, Setter>& Applied() {
  static const auto* m = new std::map<std::string, Setter>{
      {"mode", [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.mode, Scalar(n, f)); }},
      {"clientConnection.kubeconfig",
       [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.kubeconfig, Scalar(n, f)); }},
      {"hostnameOverride",
       [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.hostname_override, Scalar(n, f)); }},
      {"clusterCIDR",
       [](auto& n, auto& f, KpxConfig& c) { c.cluster_cidrs = SplitComma(Scalar(n, f)); }},
      {"bindAddress",
       [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.bind_address, Scalar(n, f)); }},
      {"healthzBindAddress",
       [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.healthz_bind_address, Scalar(n, f)); }},
      {"metricsBindAddress",
       [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.metrics_bind_address, Scalar(n, f)); }},
      {"nodePortAddresses",
       [](auto& n, auto& f, KpxConfig& c) { c.nodeport_addresses = ParseStringList(n, f); }},
      {"detectLocalMode",
       [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.detect_local_mode, Scalar(n, f)); }},
      {"iptables.syncPeriod",
       [](auto& n, auto& f, KpxConfig& c) {
         SetIfPositive(c.iptables.sync_period, ParseDuration(n, f));
       }},
      {"iptables.minSyncPeriod",
       [](auto& n, auto& f, KpxConfig& c) { c.iptables.min_sync_period = ParseDuration(n, f); }},
      {"iptables.masqueradeAll",
       [](auto& n, auto& f, KpxConfig& c) { c.iptables.masquerade_all = ParseBool(n, f); }},
      {"iptables.masqueradeBit",
       [](auto& n, auto& f, KpxConfig& c) { c.iptables.masquerade_bit = ParseInt(n, f); }},
      {"iptables.localhostNodePorts",
       [](auto& n, auto& f, KpxConfig& c) { c.iptables.localhost_nodeports = ParseBool(n, f); }},
      {"ipvs.scheduler",
       [](auto& n, auto& f, KpxConfig& c) { SetIfNonEmpty(c.ipvs.scheduler, Scalar(n, f)); }},
      {"ipvs.syncPeriod",
       [](auto& n, auto& f, KpxConfig& c) {
         SetIfPositive(c.ipvs.sync_period, ParseDuration(n, f));
       }},
      {"ipvs.minSyncPeriod",
       [](auto& n, auto& f, KpxConfig& c) { c.ipvs.min_sync_period = ParseDuration(n, f); }},
      {"ipvs.tcpTimeout",
       [](auto& n, auto& f, KpxConfig& c) { c.ipvs.tcp_timeout = ParseDuration(n, f); }},
      {"ipvs.tcpFinTimeout",
       [](auto& n, auto& f, KpxConfig& c) { c.ipvs.tcp_fin_timeout = ParseDuration(n, f); }},
      {"ipvs.udpTimeout",
       [](auto& n, auto& f, KpxConfig& c) { c.ipvs.udp_timeout = ParseDuration(n, f); }},
      {"ipvs.strictARP",
       [](auto& n, auto& f, KpxConfig& c) { c.ipvs.strict_arp = ParseBool(n, f); }},
      {"conntrack.maxPerCore",
       [](auto& n, auto& f, KpxConfig& c) { c.conntrack.max_per_core = ParseInt(n, f); }},
      {"conntrack.min", [](auto& n, auto& f, KpxConfig& c) { c.conntrack.min = ParseInt(n, f); }},
      {"conntrack.tcpEstablishedTimeout",
       [](auto& n, auto& f, KpxConfig& c) {
         c.conntrack.tcp_established_timeout = ParseDuration(n, f);
       }},
      {"conntrack.tcpCloseWaitTimeout",
       [](auto& n, auto& f, KpxConfig& c) {
         c.conntrack.tcp_close_wait_timeout = ParseDuration(n, f);
       }},
  };
  return *m;
}

// Fields kube-proxy defines that kpx accepts without acting on them.
const std::set<std::string>& Ignored() {
  static const auto* s = new std::set<std::string>{"apiVersion",
                                                   "kind",
                                                   "featureGates",
                                                   "bindAddressHardFail",
                                                   "healthzBindAddressHardFail",
                                                   "clientConnection.acceptContentTypes",
                                                   "clientConnection.contentType",
                                                   "clientConnection.qps",
                                                   "clientConnection.burst",
                                                   "configSyncPeriod",
                                                   "enableProfiling",
                                                   "showHiddenMetricsForVersion",
                                                   "oomScoreAdj",
                                                   "portRange",
                                                   "udpIdleTimeout",
                                                   "logging",
                                                   "winkernel",
                                                   "nftables",
                                                   "detectLocal",
                                                   "detectLocal.bridgeInterface",
                                                   "detectLocal.interfaceNamePrefix",
                                                   "ipvs.excludeCIDRs",
                                                   "conntrack.udpTimeout",
                                                   "conntrack.udpStreamTimeout",
                                                   "conntrack.tcpBeLiberal",
                                                   "linux",
                                                   "linux.masqueradeAll",
                                                   "linux.oomScoreAdj",
                                                   "linux.conntrack",
                                                   "windows"};
  return *s;
}

bool IsSection(const std::string& path) {
  return path == "clientConnection" || path == "iptables" || path == "ipvs" || path == "conntrack";
}

void Walk(const YAML::Node& map, const std::string& prefix, KpxConfig& c) {
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    const std::string path = Join(prefix, key);
    const YAML::Node& value = kv.second;
    if (auto it = Applied().find(path); it != Applied().end()) {
      if (!value.IsNull()) it->second(value, path, c);
      continue;
    }
    if (IsSection(path)) {
      if (value.IsNull()) continue;
      if (!value.IsMap()) throw FieldError{path + ": expected a mapping"};
      Walk(value, path, c);
      continue;
    }
    if (Ignored().contains(path)) {
      VLOG(1) << "config file: field " << path << " is accepted but has no effect in kpx";
      continue;
    }
    throw FieldError{path + ": unknown field"};
  }
}

}  // namespace

Result<KpxConfig> ParseConfigText(const std::string& text, KpxConfig base) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::Error("not valid YAML: " + std::string(e.what()));
  }
  if (!root.IsMap()) return Status::Error("not a KubeProxyConfiguration: expected a mapping");
  const auto kind = root["kind"];
  const auto api = root["apiVersion"];
  if (!kind || !kind.IsScalar() || kind.Scalar() != "KubeProxyConfiguration") {
    return Status::Error("kind: want KubeProxyConfiguration");
  }
  if (!api || !api.IsScalar() || api.Scalar() != "kubeproxy.config.k8s.io/v1alpha1") {
    return Status::Error("apiVersion: want kubeproxy.config.k8s.io/v1alpha1");
  }
  try {
    Walk(root, "", base);
  } catch (const FieldError& e) {
    return Status::Error(e.message);
  } catch (const YAML::Exception& e) {
    return Status::Error(std::string("malformed value: ") + e.what());
  }
  return base;
}

Result<KpxConfig> LoadConfigFile(const std::string& path, KpxConfig base) {
  std::ifstream in(path);
  if (!in) return Status::Error("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = ParseConfigText(ss.str(), std::move(base));
  if (!r.ok()) return Status::Error(path + ": " + r.status().message());
  return r;
}

}  // namespace kpx
