#pragma once

#include <memory>
#include <new>
#include <utility>

namespace kpx {

// std::allocator whose value-less construct default-initialises: a
// std::vector<unsigned char, DefaultInitAllocator<unsigned char>> grown with resize() is not
// zero-filled first. For buffers that are written whole right after (an x_tables table of a
// hundred megabytes read from or handed to the kernel), where the zeroing is a pass over memory
// for nothing.
template <typename T>
class DefaultInitAllocator : public std::allocator<T> {
 public:
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;

  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

}  // namespace kpx
