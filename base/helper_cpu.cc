#include "base/helper_cpu.h"

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

HelperCpu::Scope::Scope() : start_(ThreadCpuTime()) {}

HelperCpu::Scope::~Scope() { Add(ThreadCpuTime() - start_); }

}  // namespace kpx
