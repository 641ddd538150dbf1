#pragma once

#include <cstddef>
#include <new>

#include "base/default_init_allocator.h"
#include "base/page_block.h"

namespace kpx {

// An allocator for table-sized buffers: from 2 MiB up each allocation is a mapping of its own
// (PageBlock::MapPages: huge pages, unmapped when freed), below that the heap's. As its base
// DefaultInitAllocator, a value-less construct default-initialises: a vector of bytes grown with
// resize() is not zero-filled first (its bytes are written right after).
template <typename T>
class PageAllocator : public DefaultInitAllocator<T> {
 public:
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = PageAllocator<U>;
  };
  PageAllocator() noexcept = default;
  template <typename U>
  PageAllocator(const PageAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMapped) return reinterpret_cast<T*>(PageBlock::MapPages(bytes));
    return static_cast<T*>(::operator new (bytes, std::align_val_t{alignof(T)}));
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMapped) {
      PageBlock::UnmapPages(p, bytes);
    } else {
      ::operator delete (p, std::align_val_t{alignof(T)});
    }
  }

  template <typename U>
  bool operator==(const PageAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static constexpr size_t kMapped = size_t{2} << 20;
};

}  // namespace kpx
