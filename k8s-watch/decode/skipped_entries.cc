#include "k8s-watch/decode/skipped_entries.h"

#include <atomic>

namespace kpx {

namespace {

std::atomic<uint64_t>& Counter() {
  static std::atomic<uint64_t> count{0};
  return count;
}

}  // namespace

void SkippedEntries::Add() { Counter().fetch_add(1, std::memory_order_relaxed); }

uint64_t SkippedEntries::Total() { return Counter().load(std::memory_order_relaxed); }

}  // namespace kpx
