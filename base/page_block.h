#pragma once

#include <cstddef>

namespace kpx {

// Anonymous memory of its own for a large buffer that is written whole soon after it is made and
// freed whole: the per-sync arenas of rendered text and encoded rules, the x_tables table (through
// PageAllocator). Such memory is first touched once per sync, and first touches were what a full
// sync spent most of its time on: 4 KiB at a time, one page fault each (10 us each on a
// virtualized node: 250 ms per 100 MB). From 2 MiB up a mapping is aligned to 2 MiB and asks for
// transparent huge pages (only kpx's own mappings are advised so, never the heap, where the
// advice would outlive the buffer); populated in one call, 100 MB then cost ~50 faults instead of
// 25 000. Unmapped when freed, so it never lingers in the heap. Move-only.
class PageBlock {
 public:
  PageBlock() = default;
  // RoundedSize(bytes), mapped and populated; throws std::bad_alloc when the kernel refuses, as
  // operator new would.
  static PageBlock Map(size_t bytes);

  // The mapping under a PageBlock, for an allocator: RoundedSize(bytes) at a pointer aligned to
  // a page (to 2 MiB from 2 MiB up), not populated. Throws std::bad_alloc.
  static unsigned char* MapPages(size_t bytes);
  static void UnmapPages(void* data, size_t bytes);  // what MapPages(bytes) returned
  // `bytes` rounded up to whole pages, to whole 2 MiB from 2 MiB up.
  static size_t RoundedSize(size_t bytes);
  // The size of an arena's next block when it has made `made` already: `first`, doubling with
  // each block up to `largest` (small first: a sync that writes a few KB maps and populates
  // little; a full sync's blocks reach `largest` after a few).
  static size_t GrowingSize(size_t made, size_t first, size_t largest);
  // Faults in every whole page of [data, data + size) now, in one call, for memory about to be
  // written for the first time (Linux 5.14 and later; an older kernel refuses the advice and the
  // pages fault in as they are written).
  static void Populate(void* data, size_t size);
  // The same for a large buffer the heap gave (a vector about to be filled), which is first
  // advised to take huge pages where it spans whole 2 MiB: looked up at random while it fills,
  // its 4 KiB pages' TLB misses cost as much as their faults.
  static void PopulateHuge(void* data, size_t size);

  // Moves the block's pages (mremap) onto [to, to + size()), which must be page-aligned (2 MiB
  // aligned for a block of 2 MiB or more) and lie in a mapping of the caller's, whose pages there
  // they replace: memory about to be written whole gets pages already faulted in, with no fault
  // and no zeroing. The contents come along and are the caller's to overwrite. The block is
  // empty after; false (and the block unchanged) when the kernel refuses.
  bool MoveTo(void* to);
  static constexpr size_t kHugePageSize = size_t{2} << 20;
  // The first 2 MiB boundary at or after `at`: where MoveTo may put a block of 2 MiB or more.
  static unsigned char* HugePageAtOrAfter(unsigned char* at);

  PageBlock(PageBlock&& o) noexcept;
  PageBlock& operator=(PageBlock&& o) noexcept;
  PageBlock(const PageBlock&) = delete;
  PageBlock& operator=(const PageBlock&) = delete;
  ~PageBlock();

  unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  PageBlock(unsigned char* data, size_t size) : data_(data), size_(size) {}

  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kpx
