#pragma once

#include <cstdint>

namespace kpx {

// Entries skipped inside objects that were otherwise accepted (a bad loadBalancerSourceRanges
// entry, externalIP or ingress IP, as kube-proxy skips them), counted process-wide so that the
// skips are a metric as well as a log line. Thread-safe.
class SkippedEntries {
 public:
  static void Add();
  static uint64_t Total();
};

}  // namespace kpx
