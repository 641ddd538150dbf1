#include "proxier/core/service_change_tracker.h"

#include <utility>

namespace kpx {

bool ServiceChangeTracker::Update(const Service& service) {
  // A service that turns headless or ExternalName has no ports and loses its rules like a
  // deleted one.
  auto ports = ServicePortsOf(service);
  const bool programmed = !ports.empty() || !IsIgnoredService(service);
  touched_.insert_or_assign(service.meta.Key(), std::move(ports));
  return programmed;
}

void ServiceChangeTracker::Delete(const std::string& service_key) {
  touched_.insert_or_assign(service_key, std::vector<ServicePortInfo>{});
}

std::map<std::string, std::vector<ServicePortInfo>> ServiceChangeTracker::Take() {
  return std::exchange(touched_, {});
}

}  // namespace kpx
