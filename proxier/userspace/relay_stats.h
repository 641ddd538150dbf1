#pragma once

#include <atomic>
#include <cstdint>

#include "proxier/userspace/userspace_counters.h"

namespace kpx {

// One worker's counters. Written by that worker only (relaxed), read by anyone; kept per worker
// and on its own cache lines so workers never contend on a counter.
struct alignas(64) RelayStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<int64_t> active{0};
  std::atomic<uint64_t> failed_connects{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> limit_hits{0};
  std::atomic<uint64_t> no_endpoint_rejects{0};
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> resets{0};
  std::atomic<uint64_t> bytes_spliced{0};
  std::atomic<uint64_t> udp_sessions{0};
  std::atomic<int64_t> udp_active_sessions{0};
  std::atomic<uint64_t> udp_datagrams{0};
  std::atomic<int64_t> listeners{0};
  std::atomic<uint64_t> accept_failures{0};
  std::atomic<uint64_t> direct_rejects{0};

  // Single-writer increment: a plain load and store, no locked instruction.
  template <typename T>
  static void Add(std::atomic<T>& c, T n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  void AddTo(UserspaceCounters& c) const {
    auto u = [](const std::atomic<int64_t>& v) {
      const int64_t x = v.load(std::memory_order_relaxed);
      return static_cast<uint64_t>(x < 0 ? 0 : x);
    };
    c.accepted += accepted.load(std::memory_order_relaxed);
    c.active += u(active);
    c.failed_connects += failed_connects.load(std::memory_order_relaxed);
    c.retries += retries.load(std::memory_order_relaxed);
    c.limit_hits += limit_hits.load(std::memory_order_relaxed);
    c.no_endpoint_rejects += no_endpoint_rejects.load(std::memory_order_relaxed);
    c.idle_timeouts += idle_timeouts.load(std::memory_order_relaxed);
    c.resets += resets.load(std::memory_order_relaxed);
    c.bytes_spliced += bytes_spliced.load(std::memory_order_relaxed);
    c.udp_sessions += udp_sessions.load(std::memory_order_relaxed);
    c.udp_active_sessions += u(udp_active_sessions);
    c.udp_datagrams += udp_datagrams.load(std::memory_order_relaxed);
    c.listeners += u(listeners);
    c.accept_failures += accept_failures.load(std::memory_order_relaxed);
    c.direct_rejects += direct_rejects.load(std::memory_order_relaxed);
  }
};

}  // namespace kpx
