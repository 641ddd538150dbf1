#pragma once

#include <cstddef>

namespace kpx {

// Anonymous memory of its own for a large buffer that is written whole soon after it is made and
// freed whole: the per-sync arenas of rendered text and encoded rules. Such memory is first
// touched once per sync, and first touches are what a full sync spent most of its time on:
// 4 KiB at a time, one page fault each (10 us each on a virtualized node: 250 ms per 100 MB).
// A block of 2 MiB or more asks for transparent huge pages and is populated in one call, so
// 100 MB cost ~50 faults instead of 25 000; unmapped when freed, so it never lingers in the
// heap. Move-only.
class PageBlock {
 public:
  PageBlock() = default;
  // At least `bytes`, rounded up to whole pages (to 2 MiB from 2 MiB up, and aligned to it);
  // throws std::bad_alloc when the kernel refuses, as operator new would.
  static PageBlock Map(size_t bytes);
  // Advice for `size` bytes at `data` that are about to be written for the first time, whoever
  // allocated them: huge pages for the 2 MiB-aligned part of it, and every page populated now
  // (Linux 5.14 and later; an older kernel refuses the advice and the pages fault in as before).
  static void PrepareForWrite(void* data, size_t size);

  PageBlock(PageBlock&& o) noexcept;
  PageBlock& operator=(PageBlock&& o) noexcept;
  PageBlock(const PageBlock&) = delete;
  PageBlock& operator=(const PageBlock&) = delete;
  ~PageBlock();

  unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  PageBlock(unsigned char* mapping, size_t mapped, unsigned char* data, size_t size)
      : mapping_(mapping), mapped_(mapped), data_(data), size_(size) {}
  void Unmap();

  unsigned char* mapping_ = nullptr;  // what mmap returned, and its length
  size_t mapped_ = 0;
  unsigned char* data_ = nullptr;  // the aligned part handed out
  size_t size_ = 0;
};

}  // namespace kpx
