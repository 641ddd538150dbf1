#include "base/page_block.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>
#include <utility>

namespace kpx {

namespace {

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

uintptr_t RoundUp(uintptr_t n, uintptr_t to) { return (n + to - 1) & ~(to - 1); }

}  // namespace

PageBlock PageBlock::Map(size_t bytes) {
  const bool huge = bytes >= kHugePage;
  const size_t size = RoundUp(bytes == 0 ? 1 : bytes, huge ? kHugePage : kPage);
  // A huge page needs an aligned 2 MiB of address space: map one more and use the aligned part.
  const size_t mapped = huge ? size + kHugePage : size;
  void* m = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  auto* mapping = static_cast<unsigned char*>(m);
  auto* data = reinterpret_cast<unsigned char*>(
      RoundUp(reinterpret_cast<uintptr_t>(mapping), huge ? kHugePage : kPage));
  PrepareForWrite(data, size);
  return PageBlock(mapping, mapped, data, size);
}

void PageBlock::PrepareForWrite(void* data, size_t size) {
  const auto at = reinterpret_cast<uintptr_t>(data);
  const uintptr_t huge_begin = RoundUp(at, kHugePage);
  const uintptr_t huge_end = (at + size) & ~(kHugePage - 1);
  if (huge_end > huge_begin) {
    madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  }
#ifdef MADV_POPULATE_WRITE
  const uintptr_t begin = RoundUp(at, kPage);
  const uintptr_t end = (at + size) & ~(kPage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#endif
}

PageBlock::PageBlock(PageBlock&& o) noexcept
    : mapping_(std::exchange(o.mapping_, nullptr)),
      mapped_(std::exchange(o.mapped_, 0)),
      data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)) {}

PageBlock& PageBlock::operator=(PageBlock&& o) noexcept {
  if (this != &o) {
    Unmap();
    mapping_ = std::exchange(o.mapping_, nullptr);
    mapped_ = std::exchange(o.mapped_, 0);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

PageBlock::~PageBlock() { Unmap(); }

void PageBlock::Unmap() {
  if (mapping_ != nullptr) munmap(mapping_, mapped_);
  mapping_ = nullptr;
  data_ = nullptr;
  mapped_ = size_ = 0;
}

}  // namespace kpx
