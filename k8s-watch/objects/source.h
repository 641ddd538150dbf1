#pragma once

#include "base/status.h"

namespace kpx {

// Something that feeds the object handlers: the API watcher or a manifest directory.
class Source {
 public:
  virtual ~Source() = default;
  // Begins delivering events; returns once the source is running (it may still be listing).
  virtual Status Start() = 0;
  // Stops delivering events and joins any thread the source started. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace kpx
