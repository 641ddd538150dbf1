#pragma once

#include <chrono>
#include <optional>

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
  // Since when the source has been unable to hear from where its objects come from (an API
  // server it cannot reach); nullopt while it is in touch. Sources that cannot lose touch (a
  // local directory) never are.
  virtual std::optional<std::chrono::steady_clock::time_point> OutOfTouchSince() const {
    return std::nullopt;
  }
};

}  // namespace kpx
