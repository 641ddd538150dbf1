#include "k8s-watch/client/api_source.h"

#include <glog/logging.h>

#include <algorithm>

#include "k8s-watch/client/api_kinds.h"
#include "k8s-watch/client/typed_reflector_store.h"
#include "k8s-watch/decode/label_filter.h"

namespace kpx {

ApiSource::ApiSource(ClientConfig config, std::string node_name, ServiceHandler* services,
                     EndpointSliceHandler* endpoint_slices, NodeHandler* nodes, SourceStats& stats,
                     Options options)
    : config_(std::move(config)),
      node_name_(std::move(node_name)),
      services_(services),
      endpoint_slices_(endpoint_slices),
      nodes_(nodes),
      stats_(stats),
      options_(options) {}

ApiSource::~ApiSource() { Stop(); }

Status ApiSource::Start() {
  if (client_ != nullptr) return Status::Error("ApiSource already started");
  if (nodes_ != nullptr && node_name_.empty()) {
    return Status::Error("watching this node's Node object needs a node name");
  }
  ApiClient::Options client_options = options_.client;
  // The idle limit must not cut a watch before the server's own timeout ends it.
  client_options.stream_idle_timeout = std::max(
      client_options.stream_idle_timeout, options_.max_watch_timeout + std::chrono::seconds(60));
  Result<std::unique_ptr<ApiClient>> client = ApiClient::Create(config_, client_options);
  if (!client.ok()) return client.status();
  client_ = std::move(client).value();

  auto add = [this](std::unique_ptr<ReflectorStore> store, std::string resource, std::string path,
                    std::string label_selector, std::string field_selector) {
    Reflector::Options o;
    o.resource = std::move(resource);
    o.path = std::move(path);
    o.label_selector = std::move(label_selector);
    o.field_selector = std::move(field_selector);
    o.page_size = options_.page_size;
    o.max_list_item = options_.max_list_item;
    o.min_watch_timeout = options_.min_watch_timeout;
    o.max_watch_timeout = options_.max_watch_timeout;
    o.backoff = options_.backoff;
    o.min_healthy_watch = options_.min_healthy_watch;
    reflectors_.push_back(
        std::make_unique<Reflector>(client_.get(), store.get(), std::move(o), &stats_));
    stores_.push_back(std::move(store));
  };
  if (services_ != nullptr) {
    add(std::make_unique<TypedReflectorStore<ServiceKind>>(services_, &dispatch_mu_, &stats_),
        "services", "/api/v1/services", LabelFilter::kSelector, "");
  }
  if (endpoint_slices_ != nullptr) {
    add(std::make_unique<TypedReflectorStore<EndpointSliceKind>>(endpoint_slices_, &dispatch_mu_,
                                                                 &stats_),
        "endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", LabelFilter::kSelector, "");
  }
  if (nodes_ != nullptr) {
    add(std::make_unique<TypedReflectorStore<NodeKind>>(nodes_, &dispatch_mu_, &stats_), "nodes",
        "/api/v1/nodes", "", "metadata.name=" + node_name_);
  }
  LOG(INFO) << "watching the API server at " << config_.server << " (" << config_.origin << ")";
  for (auto& reflector : reflectors_) reflector->Start();
  return Status::Ok();
}

void ApiSource::Stop() {
  for (auto& reflector : reflectors_) reflector->RequestStop();
  for (auto& reflector : reflectors_) reflector->Stop();
}

std::optional<std::chrono::steady_clock::time_point> ApiSource::OutOfTouchSince() const {
  // Before Start there are no reflectors: nothing heard yet, but nothing expected either.
  std::optional<std::chrono::steady_clock::time_point> earliest;
  for (const auto& reflector : reflectors_) {
    const auto since = reflector->OutOfTouchSince();
    if (since && (!earliest || *since < *earliest)) earliest = since;
  }
  return earliest;
}

bool ApiSource::HasSynced() const {
  for (const auto& store : stores_) {
    if (!store->synced()) return false;
  }
  return true;
}

}  // namespace kpx
