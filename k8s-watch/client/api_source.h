#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "k8s-watch/client/api_client.h"
#include "k8s-watch/client/backoff.h"
#include "k8s-watch/client/client_config.h"
#include "k8s-watch/client/reflector.h"
#include "k8s-watch/client/reflector_store.h"
#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"
#include "k8s-watch/objects/source.h"
#include "k8s-watch/objects/source_stats.h"

namespace kpx {

// The Kubernetes API as a Source: three reflectors (v1 Services and discovery.k8s.io/v1
// EndpointSlices filtered by LabelFilter::kSelector, and the v1 Node named `node_name`) feeding
// the handlers. Each handler learns On*Synced() once after its kind's first complete list, so a
// consumer can hold off programming the kernel until all kinds are in.
//
// Handler calls for this source are serialised (one at a time, across all three kinds), on the
// reflector threads. A null handler leaves its kind unwatched. Handlers and `stats` must outlive
// the source. Typical use:
//   Result<ClientConfig> config = ClientConfigLoader::Load({.kubeconfig = path, .master = url});
//   ApiSource source(*config, node_name, &proxier, &proxier, &proxier, stats);
//   if (Status s = source.Start(); !s.ok()) ...;
class ApiSource : public Source {
 public:
  struct Options {
    ApiClient::Options client;
    Backoff::Policy backoff;
    std::chrono::seconds min_watch_timeout{300};
    std::chrono::seconds max_watch_timeout{600};
    std::chrono::milliseconds min_healthy_watch{1000};
    int page_size = 500;
    // See Reflector::Options::max_list_item.
    size_t max_list_item = size_t{16} << 20;
  };

  ApiSource(ClientConfig config, std::string node_name, ServiceHandler* services,
            EndpointSliceHandler* endpoint_slices, NodeHandler* nodes, SourceStats& stats,
            Options options);
  ApiSource(ClientConfig config, std::string node_name, ServiceHandler* services,
            EndpointSliceHandler* endpoint_slices, NodeHandler* nodes, SourceStats& stats)
      : ApiSource(std::move(config), std::move(node_name), services, endpoint_slices, nodes, stats,
                  Options()) {}
  ~ApiSource() override;

  // Checks the TLS material and starts the reflector threads; listing proceeds in the background
  // (and is retried while the server is unreachable). Fails on bad credentials or when a node
  // handler is given without a node name.
  Status Start() override;
  void Stop() override;
  // True once every watched kind has completed its first list.
  bool HasSynced() const;
  // The earliest time since which one of the reflectors has been out of touch.
  std::optional<std::chrono::steady_clock::time_point> OutOfTouchSince() const override;

 private:
  const ClientConfig config_;
  const std::string node_name_;
  ServiceHandler* const services_;
  EndpointSliceHandler* const endpoint_slices_;
  NodeHandler* const nodes_;
  SourceStats& stats_;
  const Options options_;

  std::mutex dispatch_mu_;
  std::unique_ptr<ApiClient> client_;
  std::vector<std::unique_ptr<ReflectorStore>> stores_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;
};

}  // namespace kpx
