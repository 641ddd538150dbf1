#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "k8s-watch/objects/service.h"
#include "proxier/core/service_port_info.h"

namespace kpx {

// Holds the current ports of every Service and remembers which Services were touched since the
// last TakeDirty(). A burst of add/update/delete for one Service folds into one dirty key; whether
// anything really changed is decided later by comparing snapshots. Not thread-safe.
class ServiceChangeTracker {
 public:
  // Returns false when the service is ignored (headless, ExternalName, other proxy).
  bool Update(const Service& service);
  void Delete(const std::string& service_key);

  // Ports of one Service ("ns/name"), empty when unknown or ignored.
  const std::vector<ServicePortInfo>& PortsOf(const std::string& service_key) const;
  std::set<std::string> TakeDirty();
  size_t size() const { return services_.size(); }

 private:
  std::map<std::string, std::vector<ServicePortInfo>> services_;
  std::set<std::string> dirty_;
};

}  // namespace kpx
