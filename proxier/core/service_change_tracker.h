#pragma once

#include <map>
#include <string>
#include <vector>

#include "k8s-watch/objects/service.h"
#include "proxier/core/service_port_info.h"

namespace kpx {

// The ports of every Service touched since the last Take(). A burst of add/update/delete for one
// Service folds into its last version; whether anything really changed is decided later by
// comparing snapshots. Ports are held only until the next snapshot: afterwards the snapshot's
// ServicePortState is the one copy of each port (at 10 000 services a second, permanent copy was
// 4 MiB). Not thread-safe.
class ServiceChangeTracker {
 public:
  // Returns false when the service is ignored (headless, ExternalName, other proxy).
  bool Update(const Service& service);
  void Delete(const std::string& service_key);

  // "ns/name" -> the Service's ports now, for every Service touched since the last call; empty
  // when it was deleted or is ignored.
  std::map<std::string, std::vector<ServicePortInfo>> Take();

 private:
  std::map<std::string, std::vector<ServicePortInfo>> touched_;
};

}  // namespace kpx
