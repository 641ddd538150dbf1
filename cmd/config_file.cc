#include "cmd/config_file.h"

#include <glog/logging.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "cmd/bind_address.h"
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

float ParseFloat(const YAML::Node& n, const std::string& field) {
  const std::string v = Scalar(n, field);
  try {
    size_t used = 0;
    const float x = std::stof(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    throw FieldError{field + ": \"" + v + "\" is not a number"};
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

std::map<std::string, bool> ParseBoolMap(const YAML::Node& n, const std::string& field) {
  std::map<std::string, bool> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) throw FieldError{field + ": expected a mapping of names to booleans"};
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    out[key] = ParseBool(kv.second, field + "." + key);
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

// What a file set that defaulting depends on.
struct Seen {
  bool healthz = false;
  bool metrics = false;
};

using Setter = std::function<void(const YAML::Node&, const std::string& field, KpxConfig&, Seen&)>;

Setter Str(std::string KpxConfig::*m) {
  return [m](auto& n, auto& f, KpxConfig& c, Seen&) { SetIfNonEmpty(c.*m, Scalar(n, f)); };
}
Setter Flag(std::function<bool&(KpxConfig&)> get) {
  return [get](auto& n, auto& f, KpxConfig& c, Seen&) { get(c) = ParseBool(n, f); };
}
Setter Int(std::function<int32_t&(KpxConfig&)> get) {
  return [get](auto& n, auto& f, KpxConfig& c, Seen&) { get(c) = ParseInt(n, f); };
}
// A metav1.Duration kube-proxy defaults when zero.
Setter DefaultedDuration(std::function<std::chrono::milliseconds&(KpxConfig&)> get) {
  return
      [get](auto& n, auto& f, KpxConfig& c, Seen&) { SetIfPositive(get(c), ParseDuration(n, f)); };
}
// A duration taken as written (0 means "leave as is" for kube-proxy).
Setter Duration(std::function<std::chrono::milliseconds&(KpxConfig&)> get) {
  return [get](auto& n, auto& f, KpxConfig& c, Seen&) { get(c) = ParseDuration(n, f); };
}

// Fields kpx acts on, by their path in the file.
const std::map<std::string, Setter>& Applied() {
  static const auto* m = new std::map<std::string, Setter>{
      {"mode",
       [](auto& n, auto& f, KpxConfig& c, Seen&) {
         const std::string v = Scalar(n, f);
         auto mode = ParseProxyMode(v);
         if (!mode) {
           throw FieldError{f + ": unknown proxy mode \"" + v +
                            "\" (want iptables, ipvs or userspace)"};
         }
         c.mode = *mode;
       }},
      {"clientConnection.kubeconfig", Str(&KpxConfig::kubeconfig)},
      {"clientConnection.contentType",
       [](auto& n, auto& f, KpxConfig& c, Seen&) {
         SetIfNonEmpty(c.no_effect.kube_api_content_type, Scalar(n, f));
       }},
      {"clientConnection.qps",
       [](auto& n, auto& f, KpxConfig& c, Seen&) {
         if (float q = ParseFloat(n, f); q != 0) c.no_effect.kube_api_qps = q;
       }},
      {"clientConnection.burst",
       [](auto& n, auto& f, KpxConfig& c, Seen&) {
         if (int32_t b = ParseInt(n, f); b != 0) c.no_effect.kube_api_burst = b;
       }},
      {"hostnameOverride", Str(&KpxConfig::hostname_override)},
      {"clusterCIDR",
       [](auto& n, auto& f, KpxConfig& c, Seen&) { c.cluster_cidrs = SplitComma(Scalar(n, f)); }},
      {"bindAddress", Str(&KpxConfig::bind_address)},
      {"healthzBindAddress",
       [](auto& n, auto& f, KpxConfig& c, Seen& seen) {
         const std::string v = Scalar(n, f);
         if (v.empty()) return;
         c.healthz_bind_address = AppendPortIfNeeded(v, kHealthzPort);
         seen.healthz = true;
       }},
      {"metricsBindAddress",
       [](auto& n, auto& f, KpxConfig& c, Seen& seen) {
         const std::string v = Scalar(n, f);
         if (v.empty()) return;
         c.metrics_bind_address = AppendPortIfNeeded(v, kMetricsPort);
         seen.metrics = true;
       }},
      {"bindAddressHardFail", Flag([](KpxConfig& c) -> bool& { return c.bind_address_hard_fail; })},
      {"oomScoreAdj", Int([](KpxConfig& c) -> int32_t& { return c.oom_score_adj; })},
      {"featureGates",
       [](auto& n, auto& f, KpxConfig& c, Seen&) { c.feature_gates = ParseBoolMap(n, f); }},
      {"nodePortAddresses",
       [](auto& n, auto& f, KpxConfig& c, Seen&) { c.nodeport_addresses = ParseStringList(n, f); }},
      {"detectLocalMode", Str(&KpxConfig::detect_local_mode)},
      {"detectLocal.bridgeInterface",
       [](auto& n, auto& f, KpxConfig& c, Seen&) {
         c.detect_local.bridge_interface = Scalar(n, f);
       }},
      {"detectLocal.interfaceNamePrefix",
       [](auto& n, auto& f, KpxConfig& c, Seen&) {
         c.detect_local.interface_name_prefix = Scalar(n, f);
       }},
      {"configSyncPeriod", DefaultedDuration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.no_effect.config_sync_period;
       })},
      {"enableProfiling", Flag([](KpxConfig& c) -> bool& { return c.no_effect.profiling; })},
      {"showHiddenMetricsForVersion",
       [](auto& n, auto& f, KpxConfig& c, Seen&) {
         c.no_effect.show_hidden_metrics_for_version = Scalar(n, f);
       }},
      {"windowsRunAsService",
       Flag([](KpxConfig& c) -> bool& { return c.no_effect.windows_service; })},
      {"iptables.syncPeriod", DefaultedDuration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.iptables.sync_period;
       })},
      {"iptables.minSyncPeriod", DefaultedDuration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.iptables.min_sync_period;
       })},
      {"iptables.masqueradeAll",
       Flag([](KpxConfig& c) -> bool& { return c.iptables.masquerade_all; })},
      {"iptables.masqueradeBit",
       Int([](KpxConfig& c) -> int32_t& { return c.iptables.masquerade_bit; })},
      {"iptables.localhostNodePorts",
       Flag([](KpxConfig& c) -> bool& { return c.iptables.localhost_nodeports; })},
      {"ipvs.scheduler", [](auto& n, auto& f, KpxConfig& c,
                            Seen&) { SetIfNonEmpty(c.ipvs.scheduler, Scalar(n, f)); }},
      {"ipvs.syncPeriod", DefaultedDuration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.ipvs.sync_period;
       })},
      // Not defaulted by kube-proxy: 0 means "sync on every change" for IPVS.
      {"ipvs.minSyncPeriod",
       Duration([](KpxConfig& c) -> std::chrono::milliseconds& { return c.ipvs.min_sync_period; })},
      {"ipvs.tcpTimeout",
       Duration([](KpxConfig& c) -> std::chrono::milliseconds& { return c.ipvs.tcp_timeout; })},
      {"ipvs.tcpFinTimeout",
       Duration([](KpxConfig& c) -> std::chrono::milliseconds& { return c.ipvs.tcp_fin_timeout; })},
      {"ipvs.udpTimeout",
       Duration([](KpxConfig& c) -> std::chrono::milliseconds& { return c.ipvs.udp_timeout; })},
      {"ipvs.strictARP", Flag([](KpxConfig& c) -> bool& { return c.ipvs.strict_arp; })},
      {"ipvs.excludeCIDRs",
       [](auto& n, auto& f, KpxConfig& c, Seen&) { c.ipvs.exclude_cidrs = ParseStringList(n, f); }},
      {"conntrack.maxPerCore",
       Int([](KpxConfig& c) -> int32_t& { return c.conntrack.max_per_core; })},
      {"conntrack.min", Int([](KpxConfig& c) -> int32_t& { return c.conntrack.min; })},
      {"conntrack.tcpEstablishedTimeout", Duration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.conntrack.tcp_established_timeout;
       })},
      {"conntrack.tcpCloseWaitTimeout", Duration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.conntrack.tcp_close_wait_timeout;
       })},
      {"conntrack.tcpBeLiberal",
       Flag([](KpxConfig& c) -> bool& { return c.conntrack.tcp_be_liberal; })},
      {"conntrack.udpTimeout", Duration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.conntrack.udp_timeout;
       })},
      {"conntrack.udpStreamTimeout", Duration([](KpxConfig& c) -> std::chrono::milliseconds& {
         return c.conntrack.udp_stream_timeout;
       })},
      {"logging.format", [](auto& n, auto& f, KpxConfig& c,
                            Seen&) { SetIfNonEmpty(c.no_effect.logging_format, Scalar(n, f)); }},
      {"logging.verbosity", Int([](KpxConfig& c) -> int32_t& { return c.verbosity; })},
  };
  return *m;
}

// The value type of a field kube-proxy defines that kpx accepts without acting on it: kube-proxy
// would still refuse a value of the wrong type.
enum class Type { kString, kBool, kNumber, kDuration, kAny };

const std::map<std::string, Type>& NoEffect() {
  static const auto* m = new std::map<std::string, Type>{
      {"clientConnection.acceptContentTypes", Type::kString},
      {"portRange", Type::kString},
      {"ipvs.ipSet", Type::kAny},
      {"nftables.masqueradeAll", Type::kBool},
      {"nftables.masqueradeBit", Type::kNumber},
      {"nftables.syncPeriod", Type::kDuration},
      {"nftables.minSyncPeriod", Type::kDuration},
      {"winkernel.networkName", Type::kString},
      {"winkernel.sourceVip", Type::kString},
      {"winkernel.enableDSR", Type::kBool},
      {"winkernel.rootHnsEndpointName", Type::kString},
      {"winkernel.forwardHealthCheckVip", Type::kBool},
      {"logging.flushFrequency", Type::kAny},
      {"logging.vmodule", Type::kAny},
      {"logging.options", Type::kAny},
  };
  return *m;
}

// Fields older kube-proxy releases defined; its lenient decoding still loads files with them.
const std::set<std::string>& Removed() {
  static const auto* s = new std::set<std::string>{"conntrack.max", "resourceContainer",
                                                   "udpIdleTimeout", "ipvs.masqueradeAll"};
  return *s;
}

bool IsSection(const std::string& path) {
  static const std::set<std::string> kSections = {"clientConnection", "iptables",   "ipvs",
                                                  "nftables",         "conntrack",  "winkernel",
                                                  "logging",          "detectLocal"};
  return kSections.contains(path);
}

void CheckType(const YAML::Node& n, const std::string& path, Type t) {
  switch (t) {
    case Type::kString:
      Scalar(n, path);
      return;
    case Type::kBool:
      ParseBool(n, path);
      return;
    case Type::kNumber:
      ParseFloat(n, path);
      return;
    case Type::kDuration:
      ParseDuration(n, path);
      return;
    case Type::kAny:
      return;
  }
}

void Walk(const YAML::Node& map, const std::string& prefix, KpxConfig& c, Seen& seen,
          std::vector<std::string>& ignored) {
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    const std::string path = Join(prefix, key);
    const YAML::Node& value = kv.second;
    if (prefix.empty() && (key == "apiVersion" || key == "kind")) continue;
    if (auto it = Applied().find(path); it != Applied().end()) {
      if (!value.IsNull()) it->second(value, path, c, seen);
      continue;
    }
    if (IsSection(path)) {
      if (value.IsNull()) continue;
      if (!value.IsMap()) throw FieldError{path + ": expected a mapping"};
      Walk(value, path, c, seen, ignored);
      continue;
    }
    if (auto it = NoEffect().find(path); it != NoEffect().end()) {
      if (!value.IsNull()) CheckType(value, path, it->second);
      VLOG(1) << "config file: field " << path << " is accepted but has no effect in kpx";
      continue;
    }
    // kube-proxy's strict decoding fails here and its lenient v1alpha1 decoding drops the field
    // with a log line; kpx does the same, naming the field.
    ignored.push_back(path);
    if (Removed().contains(path)) {
      LOG(WARNING) << "config file: field " << path
                   << " was removed from kube-proxy; ignored, as kube-proxy's lenient decoding "
                      "does";
    } else {
      LOG(WARNING) << "config file: unknown field " << path
                   << " ignored, as kube-proxy's lenient decoding does";
    }
  }
}

}  // namespace

Result<KpxConfig> ParseConfigText(const std::string& text, KpxConfig base,
                                  std::vector<std::string>* ignored) {
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
  Seen seen;
  std::vector<std::string> dropped;
  try {
    Walk(root, "", base, seen, dropped);
  } catch (const FieldError& e) {
    return Status::Error(e.message);
  } catch (const YAML::Exception& e) {
    return Status::Error(std::string("malformed value: ") + e.what());
  }
  // kube-proxy's defaults.go: the listeners' defaults follow bindAddress's family.
  if (!seen.healthz) base.healthz_bind_address = DefaultHealthzAddress(base.bind_address);
  if (!seen.metrics) base.metrics_bind_address = DefaultMetricsAddress(base.bind_address);
  for (const auto& path : dropped) base.ignored_settings.push_back("config field " + path);
  if (ignored) *ignored = std::move(dropped);
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
