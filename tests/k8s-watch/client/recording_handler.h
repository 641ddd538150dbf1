#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "k8s-watch/objects/endpoint_slice_handler.h"
#include "k8s-watch/objects/node_handler.h"
#include "k8s-watch/objects/service_handler.h"

namespace kpx::testing {

// Receives all three kinds, keeps the view a proxier would build from the calls, and records
// every call. Calls that contradict the view (an add of a known object, an update or delete of an
// unknown one, a stale `old` object, a second synced call) are recorded as violations: the
// reflector promises exact add/update/delete semantics.
class RecordingHandler : public ServiceHandler, public EndpointSliceHandler, public NodeHandler {
 public:
  struct Call {
    char op;           // 'A'dd, 'U'pdate, 'D'elete, 'S'ynced
    std::string kind;  // "service", "slice", "node"
    std::string key;
    std::string resource_version;
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

  // Snapshot accessors (take the lock).
  std::map<std::string, Service> services() const;
  std::map<std::string, EndpointSlice> slices() const;
  std::map<std::string, Node> nodes() const;
  std::vector<Call> calls() const;
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
             const T& object);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Service> services_;
  std::map<std::string, EndpointSlice> slices_;
  std::map<std::string, Node> nodes_;
  std::vector<Call> calls_;
  std::vector<std::string> violations_;
  std::map<std::string, int> synced_;
  int in_flight_ = 0;
};

}  // namespace kpx::testing
