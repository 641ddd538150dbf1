#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace kpx {

// A hash index over objects its owner keeps in numbered slots: 4 bytes a position, where a node
// container spends a pointer and a malloc chunk per object. The owner hashes and compares its
// objects (by slot number) through the functions it passes. Linear probing, a power of two in
// size, at most four fifths full (5 to 10 bytes an object); erasing shifts the later entries of
// the probe run back, so no tombstones build up.
class SlotIndex {
 public:
  static constexpr uint32_t kEmpty = UINT32_MAX;

  size_t size() const { return size_; }
  // The slot at `pos`, or kEmpty.
  uint32_t at(size_t pos) const { return table_[pos] - 1; }

  // The position of the slot `is(slot)` accepts among those hashed to `hash`, or the empty
  // position where such a slot goes. Only after Reserve, which makes room for the next insert.
  template <typename Is>
  size_t Find(size_t hash, Is&& is) const {
    const size_t mask = table_.size() - 1;
    for (size_t pos = hash & mask;; pos = (pos + 1) & mask) {
      const uint32_t held = table_[pos];
      if (held == 0 || is(held - 1)) return pos;
    }
  }
  // Whether Find may be called: false while nothing was ever reserved.
  bool ready() const { return !table_.empty(); }

  // Makes room for one more slot; `hash_of(slot)` rehashes those held when the index grows.
  template <typename HashOf>
  void Reserve(HashOf&& hash_of) {
    if (!table_.empty() && (size_ + 1) * 5 <= table_.size() * 4) return;
    std::vector<uint32_t> old =
        std::exchange(table_, std::vector<uint32_t>(table_.empty() ? 16 : table_.size() * 2));
    const size_t mask = table_.size() - 1;
    for (const uint32_t held : old) {
      if (held == 0) continue;
      size_t pos = hash_of(held - 1) & mask;
      while (table_[pos] != 0) pos = (pos + 1) & mask;
      table_[pos] = held;
    }
  }
  // Puts `slot` at `pos`, the empty position Find returned (after Reserve).
  void Insert(size_t pos, uint32_t slot) {
    table_[pos] = slot + 1;
    ++size_;
  }
  // Removes the slot at `pos`; `hash_of(slot)` hashes the others of its probe run.
  template <typename HashOf>
  void Erase(size_t pos, HashOf&& hash_of) {
    const size_t mask = table_.size() - 1;
    size_t hole = pos;
    for (size_t next = (hole + 1) & mask; table_[next] != 0; next = (next + 1) & mask) {
      const size_t home = hash_of(table_[next] - 1) & mask;
      // Movable into the hole unless its home lies cyclically in (hole, next].
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        table_[hole] = table_[next];
        hole = next;
      }
    }
    table_[hole] = 0;
    --size_;
  }

 private:
  std::vector<uint32_t> table_;  // slot + 1; 0: empty
  size_t size_ = 0;
};

}  // namespace kpx
