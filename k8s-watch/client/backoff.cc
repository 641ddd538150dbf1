#include "k8s-watch/client/backoff.h"

#include <algorithm>

namespace kpx {

Backoff::Backoff(Policy policy, unsigned seed) : policy_(policy), rng_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  current_ = current_.count() == 0 ? policy_.initial : std::min(current_ * 2, policy_.max);
  std::uniform_real_distribution<double> factor(1.0, 1.0 + std::max(0.0, policy_.jitter));
  return std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(current_.count() * factor(rng_)));
}

void Backoff::Reset() { current_ = std::chrono::milliseconds(0); }

}  // namespace kpx
