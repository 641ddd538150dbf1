#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "proxier/core/endpoint_info.h"

namespace kpx {

// An immutable list of endpoints. Copies share one block, and a list drawn from others (a subset,
// a merge of several slices, a sorted order) points into their blocks instead of copying the
// endpoints. The usual service port has one slice whose endpoints, kept sorted by the
// EndpointSliceCache, are exactly the port's `all`, `cluster` and `all_reachable` lists: then all
// of them are that slice's block, and a port's endpoints cost no allocation beyond the slice's own
// array. (A vector of shared_ptr per list was ~230 bytes per port, 23 MiB at 100 000 ports.)
class EndpointList {
  struct Block;

 public:
  using value_type = const EndpointInfo*;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = const EndpointInfo*;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = value_type;

    const_iterator() = default;
    const EndpointInfo* operator*() const { return list_->At(i_); }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }

   private:
    friend class EndpointList;
    const_iterator(const EndpointList* list, size_t i) : list_(list), i_(i) {}
    const EndpointList* list_ = nullptr;
    size_t i_ = 0;
  };
  using iterator = const_iterator;

  // Collects entries of other lists into a new one; the lists they came from stay alive as long
  // as the result does.
  class Builder {
   public:
    void Reserve(size_t n) { items_.reserve(n); }
    // `ep` must be an entry of `from`.
    void Add(const EndpointList& from, const EndpointInfo* ep);
    // Replaces entry `i` with `ep`, an entry of `from`.
    void Set(size_t i, const EndpointList& from, const EndpointInfo* ep);
    size_t size() const { return items_.size(); }
    const EndpointInfo* operator[](size_t i) const { return items_[i]; }
    EndpointList Build() &&;

   private:
    friend class EndpointList;
    void Own(const EndpointList& from);
    std::vector<const EndpointInfo*> items_;
    std::vector<EndpointList> owners_;
  };

  EndpointList() = default;
  // A list that owns these endpoints, in this order.
  explicit EndpointList(std::vector<EndpointInfo> endpoints);
  EndpointList(const EndpointList& o) : block_(o.block_) { Retain(); }
  EndpointList(EndpointList&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
  EndpointList& operator=(const EndpointList& o) {
    EndpointList copy(o);
    std::swap(block_, copy.block_);
    return *this;
  }
  EndpointList& operator=(EndpointList&& o) noexcept {
    std::swap(block_, o.block_);
    return *this;
  }
  ~EndpointList() { Release(); }

  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size()}; }
  size_t size() const { return block_ ? block_->size : 0; }
  bool empty() const { return size() == 0; }
  const EndpointInfo* operator[](size_t i) const { return At(i); }
  const EndpointInfo* front() const { return At(0); }
  const EndpointInfo* back() const { return At(size() - 1); }

  // The entries `keep` accepts, in order; this list itself when it accepts all of them.
  template <typename Pred>
  EndpointList Filter(Pred keep) const {
    size_t kept = 0;
    for (const EndpointInfo* ep : *this) kept += keep(*ep) ? 1 : 0;
    if (kept == size()) return *this;
    Builder out;
    out.Reserve(kept);
    for (const EndpointInfo* ep : *this) {
      if (keep(*ep)) out.Add(*this, ep);
    }
    return std::move(out).Build();
  }
  // The entries ordered by (ip, port); this list itself when already in that order.
  EndpointList SortedByAddress() const;

  // Whether both lists are the same block (not merely equal elements).
  bool SharesWith(const EndpointList& o) const { return block_ == o.block_; }

 private:
  // One allocation: this header, then either the endpoints themselves (a block that owns them)
  // or `size` pointers into other blocks followed by the `owners` blocks that keep those alive.
  // Counted in place (a list is one pointer): a port holds eight lists, most of them empty or
  // sharing one block, and a shared_ptr's control block and second word cost ~100 bytes a port.
  struct Block {
    mutable std::atomic<uint32_t> refs{1};
    uint32_t size = 0;
    uint32_t owners = 0;
    bool owning = false;
    const EndpointInfo* Own() const { return reinterpret_cast<const EndpointInfo*>(this + 1); }
    const EndpointInfo* const* Refs() const {
      return reinterpret_cast<const EndpointInfo* const*>(this + 1);
    }
    const Block* const* Owners() const {
      return reinterpret_cast<const Block* const*>(Refs() + size);
    }
  };
  static_assert(sizeof(Block) % alignof(EndpointInfo) == 0);
  static_assert(sizeof(Block) % alignof(const EndpointInfo*) == 0);

  const EndpointInfo* At(size_t i) const {
    return block_->owning ? block_->Own() + i : block_->Refs()[i];
  }
  void Retain() const {
    if (block_ != nullptr) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Release();

  const Block* block_ = nullptr;  // null when empty
};

}  // namespace kpx
