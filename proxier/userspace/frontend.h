#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "proxier/userspace/connection_limiter.h"
#include "proxier/userspace/endpoint_picker.h"
#include "proxier/userspace/frontend_spec.h"

namespace kpx {

// The live side of one listener group, shared (by shared_ptr) between the dataplane, which
// updates it, and the relay workers, which accept and pick through it. Established connections
// hold a reference too, so a frontend outlives its listeners until its last connection ends.
// Thread-safe.
class Frontend {
 public:
  Frontend(const FrontendSpec& spec, int connection_limit,
           std::chrono::milliseconds limit_log_interval);

  const FrontendKey& key() const { return key_; }
  Protocol protocol() const { return protocol_; }
  // Takes the spec's endpoints and affinity settings; connections in flight are unaffected.
  void Update(const FrontendSpec& spec);

  EndpointPicker& picker(IpFamily f) { return pickers_[static_cast<int>(f)]; }
  ConnectionLimiter& limiter() { return limiter_; }

  // Counted by the workers.
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> no_endpoint_rejects{0};

 private:
  const FrontendKey key_;
  const Protocol protocol_;
  std::array<EndpointPicker, 2> pickers_;
  ConnectionLimiter limiter_;
};

}  // namespace kpx
