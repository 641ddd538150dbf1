#include "base/page_populator.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "base/helper_cpu.h"
#include "base/page_block.h"

namespace kpx {

PagePopulator::PagePopulator(std::vector<Range> ranges) : ranges_(std::move(ranges)) {
  std::erase_if(ranges_, [](const Range& r) { return r.size == 0; });
  if (ranges_.empty()) return;
  try {
    thread_ = std::thread([this] {
      const HelperCpu::Scope cpu;  // a sync's work, done on another core
      Run();
    });
  } catch (const std::system_error&) {  // no thread to spare: the writer faults its pages in
  }
}

PagePopulator::~PagePopulator() { Stop(); }

void PagePopulator::Stop() {
  stop_.store(true, std::memory_order_relaxed);
  Wait();
}

void PagePopulator::Wait() {
  if (thread_.joinable()) thread_.join();
}

void PagePopulator::Run() {
  for (auto r = ranges_.rbegin(); r != ranges_.rend(); ++r) {
    size_t end = r->size;
    while (end > 0) {
      if (stop_.load(std::memory_order_relaxed)) return;
      // Steps end on 2 MiB boundaries of the range's addresses, so that a step is one huge page
      // where the mapping has them.
      const auto at = reinterpret_cast<uintptr_t>(r->data);
      const uintptr_t step_end = at + end;
      uintptr_t step_begin = step_end > kStep ? (step_end - 1) & ~(kStep - 1) : 0;
      step_begin = std::max(step_begin, at);
      PageBlock::Populate(reinterpret_cast<void*>(step_begin), step_end - step_begin);
      populated_.fetch_add(step_end - step_begin, std::memory_order_relaxed);
      end = step_begin - at;
    }
  }
}

}  // namespace kpx
