#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"

namespace kpx::testing {

// Records every handler call, in order, from whatever thread makes it, and lets a test wait for a
// number of calls with a bounded wait instead of sleeping.
class RecordingHandler : public ServiceHandler, public EndpointSliceHandler, public NodeHandler {
 public:
  struct Call {
    // "service add default/web", "endpointslice update default/web-1", "node synced", ...
    std::string event;
    std::optional<Service> old_service;
    std::optional<Service> service;
    std::optional<EndpointSlice> old_slice;
    std::optional<EndpointSlice> slice;
    std::optional<Node> old_node;
    std::optional<Node> node;
  };

  void OnServiceAdd(const Service& s) override;
  void OnServiceUpdate(const Service& old_s, const Service& s) override;
  void OnServiceDelete(const Service& s) override;
  void OnServiceSynced() override;
  void OnEndpointSliceAdd(const EndpointSlice& s) override;
  void OnEndpointSliceUpdate(const EndpointSlice& old_s, const EndpointSlice& s) override;
  void OnEndpointSliceDelete(const EndpointSlice& s) override;
  void OnEndpointSliceSynced() override;
  void OnNodeAdd(const Node& n) override;
  void OnNodeUpdate(const Node& old_n, const Node& n) override;
  void OnNodeDelete(const Node& n) override;
  void OnNodeSynced() override;

  // True once at least `n` calls have been recorded; false if `timeout` passed first.
  bool WaitForCalls(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<Call> Calls() const;
  std::vector<std::string> Events() const;
  size_t Count() const;

 private:
  void Record(Call call);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
};

}  // namespace kpx::testing
