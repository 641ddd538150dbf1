#pragma once

#include "k8s-watch/objects/service.h"

namespace kpx {

// Receives Service events from a source (API watcher or manifest directory). Calls for one source
// come from one thread at a time; implementations shared between sources must lock.
// Update is called only when the Service changed. The old Service of an Update and the Service of
// a Delete may carry only the identity (name, namespace, uid, resourceVersion), every other field
// default: a source need not keep every Service whole to name what it replaces (KeptService).
class ServiceHandler {
 public:
  virtual ~ServiceHandler() = default;
  virtual void OnServiceAdd(const Service& service) = 0;
  virtual void OnServiceUpdate(const Service& old_service, const Service& service) = 0;
  virtual void OnServiceDelete(const Service& service) = 0;
  // The initial listing is complete: every Service that existed then has been added.
  virtual void OnServiceSynced() = 0;
};

}  // namespace kpx
