#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "proxier/core/desired_state.h"

namespace kpx {

// What one health-check node port reports: the Service it belongs to and how many endpoints of
// it run on this node. Load balancers send traffic only to nodes that answer 200.
struct ServiceHealthEntry {
  std::string namespace_;
  std::string name;
  int local_endpoints = 0;
  bool operator==(const ServiceHealthEntry&) const = default;
};

// A listener on one health-check node port. Implemented over HTTP in cmd/ (proxier/ knows no
// HTTP); answers from the callback each time it is asked.
class HealthCheckListener {
 public:
  virtual ~HealthCheckListener() = default;
};
using HealthCheckResponder = std::function<ServiceHealthEntry()>;
using HealthCheckListenerFactory = std::function<Result<std::unique_ptr<HealthCheckListener>>(
    int32_t port, HealthCheckResponder responder)>;

// kube-proxy's service health server: for each LoadBalancer Service with externalTrafficPolicy
// Local, an HTTP listener on its healthCheckNodePort. Update() is called after every successful
// sync; listeners open and close as Services come and go, and counts change in place.
class ServiceHealth {
 public:
  explicit ServiceHealth(HealthCheckListenerFactory factory) : factory_(std::move(factory)) {}

  // Pure: the health-check ports `state` asks for. Local endpoints are counted over both families
  // (a dual-stack Service has one health-check port).
  static std::map<int32_t, ServiceHealthEntry> Plan(const DesiredState& state);

  // Opens and closes listeners to match `state`. A port that cannot be opened is logged and
  // retried on the next update; it never fails the sync. A state that follows the last one
  // (generation + 1) is applied from its change set: only the changed service ports are looked
  // at, as in the dataplanes; any other state is applied whole. Either way the result is Plan's.
  void Update(const DesiredState& state);
  // Closes every listener (at shutdown, before what the responders read goes away).
  void Stop();
  // The entry a port answers with now (for the listeners' responders and tests).
  std::optional<ServiceHealthEntry> Lookup(int32_t port) const;
  size_t listener_count() const;

 private:
  // One service port's share of a health-check port: the local endpoint addresses it has.
  struct Share {
    int32_t port = 0;
    std::vector<IpAddress> local;
  };
  // Replaces `name`'s share by what `port` (null: gone) gives, noting the health-check ports
  // whose entry may have changed.
  void Reshare(const ServicePortName& name, const ServicePortState* port,
               std::set<int32_t>& touched);
  // The entry of a health-check port from its shares, nullopt when none is left.
  std::optional<ServiceHealthEntry> EntryOf(int32_t port) const;

  HealthCheckListenerFactory factory_;
  // Owned by the sync thread (Update's caller).
  std::map<ServicePortName, Share> shares_;
  std::map<int32_t, std::set<ServicePortName>> sharers_;  // health-check port -> its ports
  std::set<int32_t> unopened_;                            // wanted, to be opened again
  uint64_t generation_ = 0;                               // of the last state applied
  mutable std::mutex mu_;
  std::map<int32_t, ServiceHealthEntry> entries_;
  std::map<int32_t, std::unique_ptr<HealthCheckListener>> listeners_;
};

}  // namespace kpx
