#include "base/helper_cpu.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "base/thread_cpu_clock.h"

namespace kpx {

namespace {

std::atomic<int64_t>& Nanoseconds() {
  static std::atomic<int64_t> total{0};
  return total;
}

}  // namespace

void HelperCpu::Add(std::chrono::nanoseconds cpu) {
  Nanoseconds().fetch_add(cpu.count(), std::memory_order_relaxed);
}

std::chrono::nanoseconds HelperCpu::Total() {
  return std::chrono::nanoseconds(Nanoseconds().load(std::memory_order_relaxed));
}

int HelperCpu::Available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

HelperCpu::Scope::Scope() : start_(ThreadCpuTime()) {}

HelperCpu::Scope::~Scope() { Add(ThreadCpuTime() - start_); }

}  // namespace kpx
