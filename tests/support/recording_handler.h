#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"

namespace kpx::testing {

// Receives all three kinds from any thread, records every call in order, and keeps the view a
// proxier would build from the calls. Calls that contradict the view (an add of a known object, an
// update or delete of an unknown one, a stale `old` object, a no-op update, a second synced call,
// two calls at once) are recorded as violations: sources promise exact add/update/delete
// semantics. Tests wait for calls with bounded waits instead of sleeping.
class RecordingHandler : public ServiceHandler, public EndpointSliceHandler, public NodeHandler {
 public:
  struct Call {
    char op;           // 'A'dd, 'U'pdate, 'D'elete, 'S'ynced
    std::string kind;  // "service", "slice", "node"
    std::string key;   // "ns/name"; empty for synced calls
    std::string resource_version;
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
  void OnServiceUpdate(const Service& old_service, const Service& s) override;
  void OnServiceDelete(const Service& s) override;
  void OnServiceSynced() override;
  void OnEndpointSliceAdd(const EndpointSlice& s) override;
  void OnEndpointSliceUpdate(const EndpointSlice& old_slice, const EndpointSlice& s) override;
  void OnEndpointSliceDelete(const EndpointSlice& s) override;
  void OnEndpointSliceSynced() override;
  void OnNodeAdd(const Node& n) override;
  void OnNodeUpdate(const Node& old_node, const Node& n) override;
  void OnNodeDelete(const Node& n) override;
  void OnNodeSynced() override;

  // Waits until `predicate` (called with the lock held) holds, at most `timeout`.
  bool WaitUntil(const std::function<bool()>& predicate, std::chrono::milliseconds timeout);
  // True once at least `n` calls have been recorded; false if `timeout` passed first.
  bool WaitForCalls(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Snapshot accessors (take the lock).
  std::map<std::string, Service> services() const;
  std::map<std::string, EndpointSlice> slices() const;
  std::map<std::string, Node> nodes() const;
  std::vector<Call> calls() const;
  // The calls' `event` texts, in order.
  std::vector<std::string> events() const;
  size_t call_count() const;
  std::vector<std::string> violations() const;
  int synced(const std::string& kind) const;
  // Unlocked views for use inside WaitUntil predicates.
  const std::map<std::string, Service>& services_locked() const { return services_; }
  const std::map<std::string, EndpointSlice>& slices_locked() const { return slices_; }
  const std::map<std::string, Node>& nodes_locked() const { return nodes_; }
  const std::vector<Call>& calls_locked() const { return calls_; }
  int synced_locked(const std::string& kind) const;
  // Clears the call log (not the view).
  void ClearCalls();

 private:
  template <typename T>
  void Apply(char op, const char* kind, std::map<std::string, T>& view, const T* old_object,
             const T& object, std::optional<T> Call::*old_field, std::optional<T> Call::*field);
  void Synced(const char* kind);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Service> services_;
  std::map<std::string, EndpointSlice> slices_;
  std::map<std::string, Node> nodes_;
  std::vector<Call> calls_;
  std::vector<std::string> violations_;
  std::map<std::string, int> synced_;
  // Counted outside the lock, so two calls at once are seen rather than serialised away.
  std::atomic<int> in_flight_{0};
};

}  // namespace kpx::testing
