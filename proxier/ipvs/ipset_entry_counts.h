#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "proxier/ipvs/ipvs_ipsets.h"

namespace kpx {

// How many service ports want each ipset entry: an entry is in the kernel while its count is
// above zero (a pod behind two services is one KUBE-LOOP-BACK entry wanted twice).
//
// Compact because it holds every entry kpx wrote (110 000 at 10 000 Services x 10 local
// endpoints): an entry without a net (all but KUBE-LOAD-BALANCER-SOURCE-CIDR's) is one 24-byte
// slot with its count, in one dense array found through an open-addressing index of 32-bit
// positions; removing moves the last slot into the hole, so neither adds nor removes allocate per
// entry. Entries with a net, one per load-balancer IP and source range, sit in a plain map.
// Exact: entries are compared whole, never by a digest.
//
// Pure data, not thread-safe.
class IpsetEntryCounts {
 public:
  // Adds one reference; true when the entry was not there before.
  bool Add(const IpsetEntry& e);
  // Drops one reference; true when that was the last one (the entry is gone). An entry not
  // there is left alone (false).
  bool Remove(const IpsetEntry& e);
  bool Contains(const IpsetEntry& e) const { return Count(e) != 0; }
  uint32_t Count(const IpsetEntry& e) const;
  size_t size() const { return slots_.size() + wide_.size(); }
  bool empty() const { return size() == 0; }
  void Clear();
  // Room for `n` entries without growing.
  void Reserve(size_t n);
  // Calls f(entry) for every entry, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    for (const Slot& s : slots_) f(Unpack(s));
    for (const auto& [e, count] : wide_) f(e);
  }
  // Heap bytes held (capacity), for tests and the memory notes.
  size_t HeapBytes() const;

 private:
  struct Slot {
    uint8_t set = 0;
    uint8_t protocol = 0;
    uint16_t port = 0;
    uint32_t count = 0;
    std::array<uint8_t, 16> ip{};
    bool SameKey(const Slot& o) const {
      return set == o.set && protocol == o.protocol && port == o.port && ip == o.ip;
    }
  };
  static_assert(sizeof(Slot) == 24);
  static constexpr uint32_t kEmpty = 0;  // index positions hold slot + 1

  // The slot form of `e`, when it has one (no net, the ip of its set's family).
  static std::optional<Slot> Pack(const IpsetEntry& e);
  static IpsetEntry Unpack(const Slot& s);
  static size_t Hash(const Slot& s);
  // The index position holding `key`, or the empty position where it would go.
  size_t Probe(const Slot& key) const;
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;
  std::vector<uint32_t> index_;  // capacity a power of two, at most half full
  std::map<IpsetEntry, uint32_t> wide_;
};

}  // namespace kpx
