#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"

namespace kpx::testing {

// Counts a source's handler calls without keeping any object, for tests and tools that measure a
// source's own memory (RecordingHandler keeps every call). Thread-safe.
class CountingHandler : public ServiceHandler, public EndpointSliceHandler, public NodeHandler {
 public:
  void OnServiceAdd(const Service&) override { Bump(&services_); }
  void OnServiceUpdate(const Service&, const Service&) override {}
  void OnServiceDelete(const Service&) override { Drop(&services_); }
  void OnServiceSynced() override { Bump(&synced_); }
  void OnEndpointSliceAdd(const EndpointSlice&) override { Bump(&slices_); }
  void OnEndpointSliceUpdate(const EndpointSlice&, const EndpointSlice&) override {}
  void OnEndpointSliceDelete(const EndpointSlice&) override { Drop(&slices_); }
  void OnEndpointSliceSynced() override { Bump(&synced_); }
  void OnNodeAdd(const Node&) override { Bump(&nodes_); }
  void OnNodeUpdate(const Node&, const Node&) override {}
  void OnNodeDelete(const Node&) override { Drop(&nodes_); }
  void OnNodeSynced() override { Bump(&synced_); }

  // True once all three kinds reported synced; false if `timeout` passed first.
  bool WaitSynced(std::chrono::seconds timeout);
  int services();
  int slices();
  int nodes();

 private:
  void Bump(int* n);
  void Drop(int* n);

  std::mutex mu_;
  std::condition_variable cv_;
  int services_ = 0, slices_ = 0, nodes_ = 0, synced_ = 0;
};

}  // namespace kpx::testing
