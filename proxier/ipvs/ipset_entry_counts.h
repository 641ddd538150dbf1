#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "proxier/ipvs/ipvs_ipsets.h"

namespace kpx {

// How many service ports want each ipset entry: an entry is in the kernel while its count is
// above zero (a pod behind two services is one KUBE-LOOP-BACK entry wanted twice).
//
// Compact because it holds every entry kpx wrote (110 000 at 10 000 Services x 10 local
// endpoints): an entry without a net (all but KUBE-LOAD-BALANCER-SOURCE-CIDR's) is one slot with
// its count, 12 bytes for IPv4 and the bitmap sets' ports, 24 for IPv6, in a dense array per
// family found through an open-addressing index of 32-bit positions; removing moves the last
// slot into the hole, so neither adds nor removes allocate per entry. Entries with a net, one per
// load-balancer IP and source range, sit in a plain map. Exact: entries are compared whole,
// never by a digest.
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
  // The sets holding at least one entry.
  IpsetPresence Presence() const;
  uint32_t Count(const IpsetEntry& e) const;
  size_t size() const { return v4_.size() + v6_.size() + wide_.size(); }
  bool empty() const { return size() == 0; }
  void Clear();
  // Room for `n` entries of each family without growing.
  void Reserve(size_t v4, size_t v6);
  size_t v4_size() const { return v4_.size(); }
  size_t v6_size() const { return v6_.size(); }
  // Calls f(entry) for every entry, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& s : v4_.slots()) f(Unpack(s, IpFamily::kIPv4));
    for (const auto& s : v6_.slots()) f(Unpack(s, IpFamily::kIPv6));
    for (const auto& [e, count] : wide_) f(e);
  }
  // Heap bytes held (capacity), for tests and the memory notes.
  size_t HeapBytes() const;

 private:
  // An entry's key and count; N address bytes (4 or 16).
  template <size_t N>
  struct Slot {
    uint8_t set = 0;
    uint8_t protocol = 0;
    uint16_t port = 0;
    uint32_t count = 0;
    std::array<uint8_t, N> ip{};
    bool SameKey(const Slot& o) const {
      return set == o.set && protocol == o.protocol && port == o.port && ip == o.ip;
    }
  };
  static_assert(sizeof(Slot<4>) == 12 && sizeof(Slot<16>) == 24);

  // Slots of one address width: dense, with the index over them.
  template <size_t N>
  class Table {
   public:
    uint32_t Count(const Slot<N>& key) const;
    bool Add(const Slot<N>& key);
    bool Remove(const Slot<N>& key);
    void Reserve(size_t n);
    void Clear();
    size_t size() const { return slots_.size(); }
    const std::vector<Slot<N>>& slots() const { return slots_; }
    size_t HeapBytes() const {
      return slots_.capacity() * sizeof(Slot<N>) + index_.capacity() * sizeof(uint32_t);
    }

   private:
    static constexpr uint32_t kEmpty = 0;  // index positions hold slot + 1
    static size_t Hash(const Slot<N>& s);
    // The index position holding `key`, or the empty position where it would go.
    size_t Probe(const Slot<N>& key) const;
    void Rehash(size_t capacity);

    std::vector<Slot<N>> slots_;
    std::vector<uint32_t> index_;  // capacity a power of two, at most half full
  };

  // Which table holds `e`: 4 (IPv4 hash entries and every bitmap entry), 16 (IPv6), or 0 (the
  // map: entries with a net, or whose address does not match their set).
  static int Width(const IpsetEntry& e);
  template <size_t N>
  static Slot<N> Pack(const IpsetEntry& e);
  template <size_t N>
  static IpsetEntry Unpack(const Slot<N>& s, IpFamily family);

  // Adjusts the distinct-entry count of `e`'s set when an entry came or went.
  bool Counted(const IpsetEntry& e, bool changed, int delta);

  Table<4> v4_;
  Table<16> v6_;
  std::map<IpsetEntry, uint32_t> wide_;
  std::array<uint32_t, kIpsetEntrySetCodes> distinct_{};  // entries per set
};

}  // namespace kpx
