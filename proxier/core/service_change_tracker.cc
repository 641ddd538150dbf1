#include "proxier/core/service_change_tracker.h"

#include <utility>

namespace kpx {

bool ServiceChangeTracker::Update(const Service& service) {
  const std::string key = service.meta.Key();
  dirty_.insert(key);
  auto ports = ServicePortsOf(service);
  if (ports.empty()) {
    // A service that turns headless or ExternalName loses its rules like a deleted one.
    services_.erase(key);
    return !IsIgnoredService(service);
  }
  services_[key] = std::move(ports);
  return true;
}

void ServiceChangeTracker::Delete(const std::string& service_key) {
  dirty_.insert(service_key);
  services_.erase(service_key);
}

const std::vector<ServicePortInfo>& ServiceChangeTracker::PortsOf(
    const std::string& service_key) const {
  static const std::vector<ServicePortInfo> kNone;
  auto it = services_.find(service_key);
  return it == services_.end() ? kNone : it->second;
}

std::set<std::string> ServiceChangeTracker::TakeDirty() { return std::exchange(dirty_, {}); }

}  // namespace kpx
