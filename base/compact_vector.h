#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace kpx {

// A vector in one pointer (nullptr when empty), for fields that are empty on nearly every
// object of which there are many: a Service's external IPs, load-balancer IPs and source ranges
// are empty on most of 100 000 service ports, where three std::vectors took 72 bytes each time.
// Appending reallocates: meant for lists built once and read many times.
template <typename T>
class CompactVector {
 public:
  using value_type = T;
  using const_iterator = const T*;
  using iterator = const T*;

  CompactVector() noexcept = default;
  CompactVector(std::initializer_list<T> items) { Assign(items.begin(), items.size()); }
  // Implicit, so that the decoders' std::vectors assign to it as they did to a std::vector.
  CompactVector(const std::vector<T>& items) {  // NOLINT(google-explicit-constructor)
    Assign(items.data(), items.size());
  }
  CompactVector(const CompactVector& o) {
    if (!o.empty()) Assign(o.begin(), o.size());
  }
  CompactVector(CompactVector&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
  CompactVector& operator=(CompactVector o) noexcept {
    std::swap(block_, o.block_);
    return *this;
  }
  ~CompactVector() { clear(); }

  size_t size() const { return block_ == nullptr ? 0 : block_->size; }
  bool empty() const { return block_ == nullptr; }
  const T* begin() const { return block_ == nullptr ? nullptr : block_->items(); }
  const T* end() const { return begin() + size(); }
  const T& operator[](size_t i) const { return begin()[i]; }
  const T& front() const { return *begin(); }
  std::vector<T> ToVector() const { return {begin(), end()}; }

  void clear() noexcept {
    if (block_ == nullptr) return;
    std::destroy_n(block_->items(), block_->size);
    ::operator delete (block_, std::align_val_t{alignof(Block)});
    block_ = nullptr;
  }
  void push_back(const T& item) {
    CompactVector grown;
    grown.Allocate(size() + 1);
    std::uninitialized_copy(begin(), end(), grown.block_->items());
    new (grown.block_->items() + size()) T(item);
    grown.block_->size = static_cast<uint32_t>(size() + 1);
    *this = std::move(grown);
  }

  bool operator==(const CompactVector& o) const {
    return std::equal(begin(), end(), o.begin(), o.end());
  }
  bool operator==(const std::vector<T>& o) const {
    return std::equal(begin(), end(), o.begin(), o.end());
  }

 private:
  struct alignas(alignof(T) > alignof(uint32_t) ? alignof(T) : alignof(uint32_t)) Block {
    uint32_t size = 0;
    // The items follow the header, suitably aligned by the Block's own alignment.
    T* items() { return reinterpret_cast<T*>(reinterpret_cast<char*>(this) + kHeader); }
  };
  // A multiple of the Block's alignment, which is at least T's.
  static constexpr size_t kHeader = sizeof(Block);

  void Allocate(size_t n) {
    void* p = ::operator new (kHeader + n * sizeof(T), std::align_val_t{alignof(Block)});
    block_ = new (p) Block();
  }
  void Assign(const T* items, size_t n) {
    if (n == 0) return;
    Allocate(n);
    try {
      std::uninitialized_copy_n(items, n, block_->items());
    } catch (...) {
      ::operator delete (block_, std::align_val_t{alignof(Block)});
      block_ = nullptr;
      throw;
    }
    block_->size = static_cast<uint32_t>(n);
  }

  Block* block_ = nullptr;
};

}  // namespace kpx
