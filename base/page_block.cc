#include "base/page_block.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <utility>

namespace kpx {

namespace {

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kHugePage = PageBlock::kHugePageSize;

uintptr_t RoundUp(uintptr_t n, uintptr_t to) { return (n + to - 1) & ~(to - 1); }

// `advice` for the whole `unit`s (pages, huge pages) inside [data, data + size).
void AdviseWithin(void* data, size_t size, uintptr_t unit, int advice) {
  const auto at = reinterpret_cast<uintptr_t>(data);
  const uintptr_t begin = RoundUp(at, unit);
  const uintptr_t end = (at + size) & ~(unit - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, advice);
}

}  // namespace

size_t PageBlock::RoundedSize(size_t bytes) {
  if (bytes == 0) bytes = 1;
  return RoundUp(bytes, bytes >= kHugePage ? kHugePage : kPage);
}

size_t PageBlock::GrowingSize(size_t made, size_t first, size_t largest) {
  size_t size = first;
  for (; made > 0 && size < largest; --made) size *= 2;
  return std::min(size, largest);
}

unsigned char* PageBlock::MapPages(size_t bytes) {
  const size_t size = RoundedSize(bytes);
  const bool huge = size >= kHugePage;
  // A huge page needs an aligned 2 MiB of address space: map 2 MiB more, keep the aligned part.
  const size_t mapped = huge ? size + kHugePage : size;
  void* m = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  if (!huge) return static_cast<unsigned char*>(m);
  const auto at = reinterpret_cast<uintptr_t>(m);
  const uintptr_t aligned = RoundUp(at, kHugePage);
  if (aligned > at) munmap(m, aligned - at);
  if (const uintptr_t end = at + mapped; end > aligned + size) {
    munmap(reinterpret_cast<void*>(aligned + size), end - aligned - size);
  }
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<unsigned char*>(aligned);
}

void PageBlock::UnmapPages(void* data, size_t bytes) {
  if (data != nullptr) munmap(data, RoundedSize(bytes));
}

PageBlock PageBlock::Map(size_t bytes) {
  unsigned char* data = MapPages(bytes);
  const size_t size = RoundedSize(bytes);
  Populate(data, size);
  return PageBlock(data, size);
}

void PageBlock::Populate(void* data, size_t size) {
#ifdef MADV_POPULATE_WRITE
  AdviseWithin(data, size, kPage, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)size;
#endif
}

void PageBlock::PopulateHuge(void* data, size_t size) {
  AdviseWithin(data, size, kHugePage, MADV_HUGEPAGE);
  Populate(data, size);
}

unsigned char* PageBlock::HugePageAtOrAfter(unsigned char* at) {
  return reinterpret_cast<unsigned char*>(RoundUp(reinterpret_cast<uintptr_t>(at), kHugePage));
}

bool PageBlock::MoveTo(void* to) {
  if (data_ == nullptr) return false;
  void* moved = mremap(data_, size_, size_, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  if (moved == MAP_FAILED) return false;
  data_ = nullptr;
  size_ = 0;
  return true;
}

PageBlock::PageBlock(PageBlock&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

PageBlock& PageBlock::operator=(PageBlock&& o) noexcept {
  if (this != &o) {
    UnmapPages(data_, size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

PageBlock::~PageBlock() { UnmapPages(data_, size_); }

}  // namespace kpx
