#include "cmd/kpx_app.h"

#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>
#include <thread>

#include "cmd/config_writer.h"
#include "cmd/dataplane_factory.h"
#include "cmd/health_check_listener.h"
#include "cmd/instance_lock.h"
#include "cmd/node_port_health_listener.h"
#include "cmd/node_sysctls.h"
#include "cmd/oom_score.h"
#include "cmd/source_factory.h"
#include "cmd/status_endpoints.h"
#include "proxier/health/service_health.h"
#include "proxier/metrics/registry.h"
#include "proxier/netfilter/getifaddrs_local_address_lister.h"
#include "proxier/runner/clock.h"
#include "proxier/syncing_proxier.h"

namespace kpx {

namespace {

std::string NodeName(const KpxConfig& config) {
  std::string name = config.hostname_override;
  if (name.empty()) {
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) == 0) name = buf;
  }
  // Node names are lower-case DNS names; kube-proxy lowercases the host name the same way.
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

// kube-proxy's --cleanup removes what any of its modes installed, whichever mode is configured:
// a node switched from ipvs to iptables must not keep IPVS services. IPVS goes first, because
// its iptables rules reference chains the iptables mode also owns.
int CleanupModes(const KpxConfig& config, std::ostream& out, MetricsRegistry& metrics,
                 std::initializer_list<ProxyMode> modes) {
  int failures = 0;
  for (ProxyMode m : modes) {
    const std::string_view mode = ProxyModeName(m);
    KpxConfig c = config;
    c.mode = m;
    auto dataplane = MakeDataplane(c, out, metrics);
    if (!dataplane.ok()) {
      // No IPVS in this kernel means there is nothing of the IPVS mode to remove.
      LOG(INFO) << "cleanup: skipping " << mode << " mode: " << dataplane.status().message();
      continue;
    }
    if (Status st = (*dataplane)->Cleanup(); !st.ok()) {
      LOG(ERROR) << "cleanup of the " << mode << " mode failed: " << st.message();
      ++failures;
      continue;
    }
    LOG(INFO) << "cleanup: removed every rule kpx's " << mode << " mode installs";
  }
  return failures == 0 ? 0 : 1;
}

int CleanupAllModes(const KpxConfig& config, std::ostream& out, MetricsRegistry& metrics) {
  return CleanupModes(
      config, out, metrics,
      {ProxyMode::kIpvs, ProxyMode::kUserspace, ProxyMode::kIptables, ProxyMode::kNftables});
}

// Settings that were accepted for kube-proxy compatibility but change nothing in kpx, said once
// at start so that an operator comparing with kube-proxy sees them.
void LogIgnoredSettings(const KpxConfig& config) {
  for (const auto& what : config.ignored_settings) {
    LOG(WARNING) << "accepted without effect in kpx: " << what;
  }
  const KpxConfig defaults;
  const auto& n = config.no_effect;
  const auto& d = defaults.no_effect;
  if (n.logging_format != "text") {
    LOG(WARNING) << "logging format \"" << n.logging_format << "\": kpx writes klog's text format";
  }
  if (n.profiling) LOG(WARNING) << "profiling: kpx has no /debug/pprof handler";
  if (n.windows_service) LOG(WARNING) << "windows service: Windows only, ignored on Linux";
  if (n.kube_api_qps != d.kube_api_qps || n.kube_api_burst != d.kube_api_burst ||
      n.kube_api_content_type != d.kube_api_content_type) {
    LOG(INFO) << "kube-api qps/burst/content type: kpx makes one JSON list+watch per resource "
                 "and ignores them";
  }
  if (!config.ipvs.exclude_cidrs.empty() && config.mode == ProxyMode::kIpvs) {
    LOG(INFO) << "ipvs excludeCIDRs: kpx only ever removes virtual servers it created";
  }
}

}  // namespace

int RunKpx(const KpxConfig& config, std::ostream& out) {
  // Block the stop signals before any thread exists so that only the waiter below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  LogIgnoredSettings(config);
  if (!config.write_config_to.empty()) {
    std::ofstream f(config.write_config_to);
    f << RenderConfigYaml(config);
    f.flush();
    if (!f) {
      LOG(ERROR) << "cannot write the configuration to " << config.write_config_to;
      return 1;
    }
    LOG(INFO) << "wrote the configuration to " << config.write_config_to;
    return 0;
  }
  if (!config.dry_run && !config.cleanup) {
    // kube-proxy logs a failure here and goes on (e.g. without CAP_SYS_RESOURCE).
    if (Status st = ApplyOomScoreAdj(config.oom_score_adj); !st.ok()) {
      LOG(WARNING) << "cannot apply oom_score_adj " << config.oom_score_adj << ": " << st.message();
    }
  }
  if (config.init_only) {
    NodeSysctls::Proc().Apply(config);
    LOG(INFO) << "--init-only: node settings made, exiting";
    return 0;
  }

  // --cleanup takes the lock too: removing rules under a running kpx would fight it.
  InstanceLock lock;
  if (Status st = lock.Acquire(std::chrono::seconds(5)); !st.ok() && !config.dry_run) {
    LOG(ERROR) << st.message();
    std::cerr << "kpx: " << st.message() << "\n";
    return 1;
  }

  MetricsRegistry metrics;
  if (config.cleanup) return CleanupAllModes(config, out, metrics);
  if (config.mode == ProxyMode::kNftables && !config.dry_run) {
    // Switching from kube-proxy (iptables or IPVS) or from another kpx mode: their KUBE-*
    // chains, IPVS services and portals would still catch service traffic beside kpx's
    // nftables table (kube-proxy's own nftables tables the dataplane removes itself). A
    // throwaway registry: the removed modes' metric readers must not outlive them.
    MetricsRegistry scratch;
    if (CleanupModes(config, out, scratch,
                     {ProxyMode::kIpvs, ProxyMode::kUserspace, ProxyMode::kIptables}) != 0) {
      LOG(WARNING) << "rules of other proxy modes could not all be removed; continuing";
    }
  }
  auto dataplane = MakeDataplane(config, out, metrics);
  if (!dataplane.ok()) {
    LOG(ERROR) << dataplane.status().message();
    std::cerr << "kpx: " << dataplane.status().message() << "\n";
    return 2;
  }

  if (!config.dry_run) NodeSysctls::Proc().Apply(config);

  const std::string node_name = NodeName(config);
  LOG(INFO) << "kpx starting: mode=" << ProxyModeName(config.mode)
            << " dataplane=" << (*dataplane)->Name() << " node=" << node_name;
  SteadyClock clock;
  SyncingProxier::Options options;
  options.node_name = node_name;
  const bool ipvs = config.mode == ProxyMode::kIpvs;
  options.runner.min_interval =
      ipvs ? config.ipvs.min_sync_period : config.iptables.min_sync_period;
  options.runner.max_interval = ipvs ? config.ipvs.sync_period : config.iptables.sync_period;
  options.runner.retry_interval =
      std::min(options.runner.max_interval, std::chrono::milliseconds(5000));
  // Health-check node ports answer from the last applied state; the proxier's health is read
  // through a pointer set once the proxier exists.
  const SyncingProxier* proxier_ptr = nullptr;
  const auto health_timeout = 2 * options.runner.max_interval;
  // The health-check node ports face the network: one set of counters for all of them.
  auto health_check_stats = std::make_shared<HttpServer::Stats>();
  {
    const MetricsRegistry::Labels labels{{"server", "health-check-node-ports"}};
    HttpServer::Stats* s = health_check_stats.get();
    metrics.SetCounterFunc("kpx_http_connections_refused_total",
                           "Connections to kpx's HTTP servers closed at once for being over the "
                           "total or per-client connection limit",
                           labels, [s] { return double(s->connections_refused.load()); });
    metrics.SetCounterFunc("kpx_http_requests_refused_total",
                           "Requests to kpx's HTTP servers refused as malformed, too large or idle",
                           labels, [s] { return double(s->requests_refused.load()); });
    metrics.SetCounterFunc("kpx_http_accept_failures_total",
                           "accept() failures of kpx's HTTP servers (e.g. out of file descriptors)",
                           labels, [s] { return double(s->accept_failures.load()); });
    metrics.SetCounterFunc("kpx_http_requests_timed_out_total",
                           "Connections to kpx's HTTP servers closed for not completing a request "
                           "within the deadline",
                           labels, [s] { return double(s->requests_timed_out.load()); });
  }
  // Health-check node ports listen where NodePorts answer (--nodeport-addresses), as kube-proxy.
  const NodePortAddresses node_port_addresses = NodePortAddressesOf(config);
  GetifaddrsLocalAddressLister host_addresses;
  NodeState applied_node;  // the node as of the state being applied; read by the factory below
  ServiceHealth service_health([&](int32_t port, HealthCheckResponder responder) {
    auto listed = host_addresses.List();
    const std::vector<std::string> bind_ips = NodePortHealthListener::BindAddresses(
        node_port_addresses, listed.ok() ? *listed : std::vector<IpAddress>(), applied_node,
        config.bind_address);
    return NodePortHealthListener::Open(
        bind_ips, port, std::move(responder),
        [&] {
          const auto pending = proxier_ptr->OldestPendingChange();
          return !pending || std::chrono::steady_clock::now() - *pending < health_timeout;
        },
        health_check_stats);
  });
  if (!config.dry_run) {
    options.on_applied = [&](const DesiredState& state) {
      applied_node = state.node;
      service_health.Update(state);
    };
  }
  SyncingProxier proxier(options, **dataplane, clock, metrics);
  proxier_ptr = &proxier;

  auto source = MakeSource(config, node_name, proxier, metrics);
  if (!source.ok()) {
    LOG(ERROR) << source.status().message();
    std::cerr << "kpx: " << source.status().message() << "\n";
    return 2;
  }
  if (Status st = (*source)->Start(); !st.ok()) {
    LOG(ERROR) << "cannot start the object source: " << st.message();
    return 1;
  }

  StatusEndpoints status(config, proxier, metrics, source->get());
  if (Status st = status.Start(); !st.ok()) {
    // --bind-address-hard-fail: kube-proxy exits when a server cannot bind.
    if (config.bind_address_hard_fail) {
      std::cerr << "kpx: " << st.message() << "\n";
      proxier.Stop();
      (*source)->Stop();
      service_health.Stop();
      status.Stop();
      return 1;
    }
    // Otherwise kube-proxy keeps running and retries; the servers that did bind are serving.
    LOG(ERROR) << st.message() << " (retrying every 5 s)";
  }

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    LOG(INFO) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
              << ": stopping, rules stay in place";
    proxier.Stop();
  });
  proxier.Run();
  (*source)->Stop();
  service_health.Stop();
  status.Stop();
  waiter.join();
  LOG(INFO) << "kpx stopped";
  return 0;
}

}  // namespace kpx
