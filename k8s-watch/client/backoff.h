#pragma once

#include <chrono>
#include <random>

namespace kpx {

// Exponential backoff with jitter for retrying API requests: initial, 2x, 4x, ... capped at
// `max`, each delay stretched by a random factor in [1, 1 + jitter) so that many nodes that lost
// the same API server do not come back in lock step. Not thread-safe; one per retry loop.
class Backoff {
 public:
  struct Policy {
    std::chrono::milliseconds initial{800};
    std::chrono::milliseconds max{30000};
    double jitter = 0.2;
  };

  explicit Backoff(Policy policy, unsigned seed = std::random_device{}());

  // The delay to wait before the next attempt; grows on every call.
  std::chrono::milliseconds Next();
  // After a success: the next failure waits `initial` again.
  void Reset();

 private:
  Policy policy_;
  std::chrono::milliseconds current_{0};
  std::mt19937 rng_;
};

}  // namespace kpx
