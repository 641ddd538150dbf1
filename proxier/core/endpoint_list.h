#pragma once

#include <array>
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
//
// A block of IPv4 endpoints that share one port (a slice's endpoints for one of its ports: every
// owning block the cache builds) stores the port once and each endpoint in 5 bytes (address,
// flags), plus 4 for its zone hints only when some endpoint has hints, instead of a 24-byte
// EndpointInfo whose address has room for IPv6: the endpoints are most of the core's memory at
// scale (a million at 100 000 Services x 10; a block of ten is an 80-byte malloc chunk where
// it was 272). So entries are read as values: iterating yields a Ref, which carries the
// endpoint decoded and which stored entry it is.
class EndpointList {
  struct Block;

 public:
  // One entry of a list: `->` and `*` reach the endpoint (decoded, held by the Ref), SameEntry
  // tells whether two Refs are the same stored entry (not merely equal endpoints); a Builder
  // takes Refs back to point at those entries.
  class Ref {
   public:
    const EndpointInfo* operator->() const { return &value_; }
    // A temporary Ref (a list's operator[], an iterator's *) yields a copy, so that
    // `const EndpointInfo& e = *list[i];` cannot dangle.
    const EndpointInfo& operator*() const& { return value_; }
    EndpointInfo operator*() const&& { return value_; }
    // So predicates over `const EndpointInfo&` accept Refs. Not from a temporary Ref: the
    // reference would outlive it (`for (const EndpointInfo& e : list)` does not compile; write
    // `const auto& e` or `const EndpointList::Ref& e`).
    operator const EndpointInfo&() const& { return value_; }  // NOLINT(google-explicit-constructor)
    operator const EndpointInfo&() const&& = delete;
    bool SameEntry(const Ref& o) const { return slot_ == o.slot_; }
    // Equal for the same entry only; usable as a hash key with SameEntry's meaning.
    uintptr_t slot() const { return slot_; }

   private:
    friend class EndpointList;
    explicit Ref(uintptr_t slot);
    EndpointInfo value_;
    uintptr_t slot_ = 0;
  };
  using value_type = Ref;

  class const_iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    // Dereferencing yields a value, which the C++17 forward-iterator requirements do not allow.
    using iterator_category = std::input_iterator_tag;
    using value_type = Ref;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Ref;

    const_iterator() = default;
    Ref operator*() const { return list_->At(i_); }
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
    void Add(const EndpointList& from, const Ref& ep);
    // Replaces entry `i` with `ep`, an entry of `from`.
    void Set(size_t i, const EndpointList& from, const Ref& ep);
    size_t size() const { return items_.size(); }
    Ref operator[](size_t i) const { return Ref(items_[i]); }
    EndpointList Build() &&;

   private:
    friend class EndpointList;
    void Own(const EndpointList& from);
    std::vector<uintptr_t> items_;  // slots
    std::vector<EndpointList> owners_;
  };

  EndpointList() = default;
  // A list that owns these endpoints, in this order.
  explicit EndpointList(const std::vector<EndpointInfo>& endpoints);
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
  Ref operator[](size_t i) const { return At(i); }
  Ref front() const { return At(0); }
  Ref back() const { return At(size() - 1); }

  // The entries `keep` accepts (it is given each Ref), in order; this list itself when it
  // accepts all of them.
  template <typename Pred>
  EndpointList Filter(Pred keep) const {
    size_t kept = 0;
    for (const Ref& ep : *this) kept += keep(ep) ? 1 : 0;
    if (kept == size()) return *this;
    Builder out;
    out.Reserve(kept);
    for (const Ref& ep : *this) {
      if (keep(ep)) out.Add(*this, ep);
    }
    return std::move(out).Build();
  }
  // The entries ordered by (ip, port); this list itself when already in that order.
  EndpointList SortedByAddress() const;

  // Whether both lists are the same block (not merely equal elements).
  bool SharesWith(const EndpointList& o) const { return block_ == o.block_; }

 private:
  // One allocation: this header, then either the endpoints themselves (a block that owns them)
  // or `size` slots pointing into other blocks followed by the `owners` blocks that keep those
  // alive. An owning block is packed (see the class comment: `size` IPv4 addresses, then `size`
  // flag bytes, then, with `hinted`, `size` hint numbers at the next 4-byte boundary) or holds
  // EndpointInfos. A slot is the address of an EndpointInfo, or for a packed entry the block's
  // address with kPackedTag and the entry's index in the bits above kIndexShift. Counted in
  // place (a list is one pointer): a port holds eight lists, most of them empty or sharing one
  // block, and a shared_ptr's control block and second word cost ~100 bytes a port.
  struct Block {
    mutable std::atomic<uint32_t> refs{1};
    uint32_t size = 0;
    uint32_t owners = 0;
    uint16_t port = 0;  // packed: every entry's
    bool owning : 1 = false;
    bool packed : 1 = false;
    bool hinted : 1 = false;  // packed: hint numbers follow the flags
    const uint8_t* Bytes() const { return reinterpret_cast<const uint8_t*>(this + 1); }
    const uint8_t* Address(size_t i) const { return Bytes() + 4 * i; }
    uint8_t Flags(size_t i) const { return Bytes()[4 * size + i]; }
    size_t HintsOffset() const { return (5 * size + 3) & ~size_t{3}; }
    uint32_t Hints(size_t i) const {
      return hinted ? reinterpret_cast<const uint32_t*>(Bytes() + HintsOffset())[i] : 0;
    }
    const EndpointInfo* Own() const { return reinterpret_cast<const EndpointInfo*>(this + 1); }
    const uintptr_t* Slots() const { return reinterpret_cast<const uintptr_t*>(this + 1); }
    const Block* const* Owners() const {
      return reinterpret_cast<const Block* const*>(Slots() + size);
    }
  };
  static_assert(sizeof(Block) == 16);
  static_assert(sizeof(Block) % alignof(EndpointInfo) == 0);
  static_assert(sizeof(Block) % alignof(uintptr_t) == 0);
  static_assert(alignof(Block) > 1 && alignof(EndpointInfo) > 1);
  static constexpr uintptr_t kPackedTag = 1;
  // x86-64 and arm64 user addresses fit 47 bits (the constructor checks): a packed slot keeps
  // the index above them.
  static constexpr int kIndexShift = 48;
  static constexpr size_t kMaxPacked = 1 << (64 - kIndexShift);

  uintptr_t SlotAt(size_t i) const {
    if (!block_->owning) return block_->Slots()[i];
    if (block_->packed) {
      return reinterpret_cast<uintptr_t>(block_) | kPackedTag | uintptr_t{i} << kIndexShift;
    }
    return reinterpret_cast<uintptr_t>(block_->Own() + i);
  }
  Ref At(size_t i) const { return Ref(SlotAt(i)); }
  void Retain() const {
    if (block_ != nullptr) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Release();

  const Block* block_ = nullptr;  // null when empty
};

}  // namespace kpx
