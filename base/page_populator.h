#pragma once

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace kpx {

// Faults in ranges of a mapping on a thread of its own while the caller writes them from the
// front: the kernel zeroes each fresh page as it is faulted in, and a table of 100 MB written
// into fresh memory spent ~0.1 s on that (a huge page's fault is a 2 MiB clear), which another
// core can do meanwhile. The ranges are taken last first, each from its end in 2 MiB steps, so
// the thread and the writer work towards each other and never on the same step for long; a
// page either touched first is present for the other. Stop() ends it at the step it is on.
// Populating is only ever ahead of use: a page is never changed, only made present.
class PagePopulator {
 public:
  struct Range {
    unsigned char* data;
    size_t size;
  };
  // Starts the thread (nothing is done when none can be started, or there is nothing to do).
  // The ranges must stay mapped until Stop() returns.
  explicit PagePopulator(std::vector<Range> ranges);
  PagePopulator(const PagePopulator&) = delete;
  PagePopulator& operator=(const PagePopulator&) = delete;
  ~PagePopulator();  // Stop()

  // Asks the thread to stop after its current step and waits for it.
  void Stop();
  // Waits for the thread to populate every range.
  void Wait();
  // Bytes the thread asked the kernel to populate; final once Stop() returned.
  size_t populated() const { return populated_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kStep = size_t{2} << 20;
  void Run();

  std::vector<Range> ranges_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> populated_{0};
  std::thread thread_;
};

}  // namespace kpx
