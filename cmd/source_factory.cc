#include "cmd/source_factory.h"

#include "k8s-watch/client/api_source.h"
#include "k8s-watch/client/client_config_loader.h"
#include "k8s-watch/decode/skipped_entries.h"
#include "k8s-watch/manifest/manifest_source.h"

namespace kpx {

namespace {

// Exports a source's counters; they are read at scrape time.
void ExportSourceStats(const SourceStats& stats, const std::string& source,
                       MetricsRegistry& metrics) {
  const MetricsRegistry::Labels labels{{"source", source}};
  auto read = [](const std::atomic<uint64_t>& v) {
    return [&v] { return static_cast<double>(v.load()); };
  };
  metrics.SetCounterFunc("kpx_objects_rejected_total",
                         "API objects skipped because they failed decoding or validation", labels,
                         read(stats.objects_rejected));
  metrics.SetCounterFunc("kpx_objects_skipped_total",
                         "API objects ignored on purpose (other proxy, FQDN slices)", labels,
                         read(stats.objects_skipped));
  metrics.SetCounterFunc("kpx_watch_restarts_total", "Watch streams re-established", labels,
                         read(stats.watch_restarts));
  metrics.SetCounterFunc("kpx_relists_total", "Full relists after 410 Gone or errors", labels,
                         read(stats.relists));
  metrics.SetCounterFunc("kpx_source_events_total", "Object events delivered to the proxier",
                         labels, read(stats.events_received));
  metrics.SetCounterFunc(
      "kpx_object_entries_skipped_total",
      "Invalid entries skipped inside accepted objects (source ranges, external or ingress IPs)",
      {}, [] { return static_cast<double>(SkippedEntries::Total()); });
  metrics.SetCounterFunc("kpx_watch_events_dropped_total",
                         "Watch events dropped for exceeding the line size limit (64 MiB)", labels,
                         read(stats.watch_events_dropped));
  metrics.SetCounterFunc("kpx_list_items_too_large_total",
                         "List items (objects) skipped for exceeding the size limit (16 MiB)",
                         labels, read(stats.list_items_too_large));
  metrics.SetCounterFunc("kpx_manifest_files_read_total",
                         "Manifest files read from disk; an edit reads the edited file, not all",
                         labels, read(stats.files_read));
}

// Owns the counters a source writes and exports them as metrics at scrape time.
class ManifestDirectorySource final : public Source {
 public:
  ManifestDirectorySource(const std::string& dir, const std::string& node_name, Proxier& proxier,
                          MetricsRegistry& metrics)
      : source_(dir, node_name, &proxier, &proxier, &proxier, &stats_), metrics_(metrics) {
    ExportSourceStats(stats_, "manifest", metrics_);
  }
  Status Start() override { return source_.Start(); }
  void Stop() override { source_.Stop(); }

 private:
  SourceStats stats_;
  ManifestSource source_;
  MetricsRegistry& metrics_;
};

// The Kubernetes API: kubeconfig, --master or in-cluster, as kube-proxy chooses.
class KubernetesApiSource final : public Source {
 public:
  KubernetesApiSource(ClientConfig client, const std::string& node_name, Proxier& proxier,
                      MetricsRegistry& metrics)
      : source_(std::move(client), node_name, &proxier, &proxier, &proxier, stats_) {
    ExportSourceStats(stats_, "api", metrics);
  }
  Status Start() override { return source_.Start(); }
  void Stop() override { source_.Stop(); }
  std::optional<std::chrono::steady_clock::time_point> OutOfTouchSince() const override {
    return source_.OutOfTouchSince();
  }

 private:
  SourceStats stats_;
  ApiSource source_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeSource(const KpxConfig& config, const std::string& node_name,
                                           Proxier& proxier, MetricsRegistry& metrics) {
  if (!config.source_dir.empty()) {
    return std::unique_ptr<Source>(
        std::make_unique<ManifestDirectorySource>(config.source_dir, node_name, proxier, metrics));
  }
  auto client = ClientConfigLoader::Load({config.kubeconfig, config.master, ""});
  if (!client.ok()) {
    return Status::Error(
        "cannot configure the Kubernetes API client: " + client.status().message() +
        " (give --kubeconfig, --master, run in a pod, or use --source=DIR)");
  }
  return std::unique_ptr<Source>(std::make_unique<KubernetesApiSource>(
      std::move(client).value(), node_name, proxier, metrics));
}

}  // namespace kpx
