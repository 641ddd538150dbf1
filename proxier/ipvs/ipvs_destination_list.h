#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

#include "proxier/ipvs/ipvs_destination.h"

namespace kpx {

// The real servers of one virtual server as kpx last saw them in the kernel, sorted by key.
// The dataplane keeps one for every virtual server it owns between syncs (100 000 real servers
// at 10 000 Services x 10 endpoints), so it is compact: a flat sorted array (a tree node per real
// server cost twice the real server), holding only what a plan compares: the key, the weight and
// the forwarding method, 28 bytes a real server. Connection counters and thresholds are not
// kept: only a fresh dump can be trusted for them (graceful termination lists the kernel), and
// the destinations read back have them zero. Lookups are binary searches; inserts and erases
// move the tail, cheap at the sizes a virtual server has. Grows by an eighth, so a full sync
// adding one destination at a time leaves little unused room.
// Pure data, not thread-safe.
class IpvsDestinationList {
 private:
  struct Entry {
    std::array<uint8_t, 16> ip{};
    uint16_t port = 0;
    uint8_t family = 0;
    int32_t weight = 0;
    uint32_t forward_method = 0;
  };
  static_assert(sizeof(Entry) == 28);

 public:
  // Iterates the destinations in key order, each as a value.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = IpvsDestination;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = IpvsDestination;

    const_iterator() = default;
    IpvsDestination operator*() const { return Unpack(*it_); }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++it_;
      return old;
    }
    bool operator==(const const_iterator&) const = default;

   private:
    friend class IpvsDestinationList;
    explicit const_iterator(std::vector<Entry>::const_iterator it) : it_(it) {}
    std::vector<Entry>::const_iterator it_;
  };

  std::optional<IpvsDestination> Find(const IpvsDestinationKey& key) const;
  bool Contains(const IpvsDestinationKey& key) const;
  // Inserts `d`, or replaces the destination with its key.
  void Put(const IpvsDestination& d);
  // Sets the weight of the destination with `key`; false when there is none.
  bool SetWeight(const IpvsDestinationKey& key, int32_t weight);
  // True when there was one.
  bool Erase(const IpvsDestinationKey& key);
  // Removes every destination `pred(const IpvsDestination&)` holds true for; returns how many.
  template <typename Pred>
  size_t EraseIf(Pred&& pred) {
    size_t kept = 0;
    for (size_t i = 0; i < dests_.size(); ++i) {
      if (pred(Unpack(dests_[i]))) continue;
      dests_[kept++] = dests_[i];
    }
    const size_t n = dests_.size() - kept;
    dests_.resize(kept);
    return n;
  }

  const_iterator begin() const { return const_iterator(dests_.begin()); }
  const_iterator end() const { return const_iterator(dests_.end()); }
  size_t size() const { return dests_.size(); }
  bool empty() const { return dests_.empty(); }
  size_t capacity() const { return dests_.capacity(); }
  bool operator==(const IpvsDestinationList& o) const;

  // Bytes one destination takes (capacity() of them are allocated).
  static constexpr size_t kEntryBytes = sizeof(Entry);

 private:
  static Entry Pack(const IpvsDestination& d);
  static IpvsDestination Unpack(const Entry& e);
  // Orders like IpvsDestinationKey: family, address bytes, port.
  static bool KeyLess(const Entry& a, const Entry& b);
  static bool SameKey(const Entry& a, const Entry& b);
  std::vector<Entry>::const_iterator LowerBound(const Entry& key) const;

  std::vector<Entry> dests_;  // sorted by key, keys unique
};

}  // namespace kpx
