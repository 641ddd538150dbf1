#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxier/core/service_port_name.h"
#include "proxier/nftables/nft_elements.h"

namespace kpx {

// Every claim on the keys of one shared nftables set (dispatch keys, hairpin pairs, firewall
// entries, node addresses): several service ports may list the same key, and the kernel holds it
// while anyone does.
//  - A plain claim (no value: hairpin pairs, firewall entries) only counts: every claim is the
//    same, and an owner adds and removes the same list, so the count stays exact even when an
//    owner lists a key twice.
//  - A valued claim (map elements) remembers its owner; the owner whose name text sorts first
//    wins, so a key two services both claim gets the same value whatever the order of syncs.
// Compact because it holds one entry per shared element (10^5 to 10^6 hairpin pairs at 10 000 to
// 100 000 Services): keys live in one flat arena (a set's keys have one length, padded to the
// longest seen), found through an open-addressing index of 32-bit slots, and removed by moving
// the last slot into the hole, so neither adds nor removes allocate per element. Owners and
// values are stored only for sets that have valued claims, as a pointer and a 64-bit word (4-byte
// data inline, other values interned); a key with two or more valued owners keeps them all in a
// side table, which only conflicting Services use.
// An owner is the ServicePortName its caller keeps alive while it has claims (nullptr: the node's
// own elements, which sort before every Service).
class NftClaimSet {
 public:
  using Owner = const ServicePortName*;

  void Add(std::string_view key, Owner owner, const NftValue& value);
  // Removes one claim `owner` made with `value`; a key nobody claims any more is gone.
  void Remove(std::string_view key, Owner owner, const NftValue& value);
  // The value the kernel should hold for `key`, nullopt when nobody claims it.
  std::optional<NftValue> Effective(std::string_view key) const;
  size_t size() const { return lens_.size(); }
  bool empty() const { return lens_.empty(); }
  void Clear();
  // Gives back what growing left unused (a full sync builds the set from nothing), keeping an
  // eighth of room for the partial syncs that follow.
  void Compact();
  // Calls f(key, value) for every claimed key, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    for (uint32_t s = 0; s < size(); ++s) f(KeyAt(s), Value(s));
  }
  // Keys by position 0..size()-1, stable until the next Add, Remove or Compact: a full sync
  // sorts and writes positions instead of copying every element out.
  std::string_view KeyAt(uint32_t slot) const {
    return {keys_.data() + static_cast<size_t>(slot) * stride_, lens_[slot]};
  }
  NftValue Value(uint32_t slot) const;
  // Heap bytes held (capacity, not size), for tests and the memory notes.
  size_t HeapBytes() const;

 private:
  // A value as one word: 0 none, kInline|data for 4-byte data, else an index+1 into values_.
  static constexpr uint64_t kInline = uint64_t{1} << 63;
  static constexpr uint32_t kEmpty = 0;
  struct Owned {
    Owner owner = nullptr;  // the winning owner
    uint64_t value = 0;     // the winning owner's value (0: no valued claim)
  };
  struct Interned {
    NftValue value;
    uint32_t refs = 0;
  };

  // The index position holding `slot`+1, or of `key` (or the empty position where it would go).
  size_t Probe(std::string_view key) const;
  size_t PositionOf(uint32_t slot) const;
  std::optional<uint32_t> Find(std::string_view key) const;
  uint32_t Insert(std::string_view key);
  void Erase(uint32_t slot);
  void Rehash(size_t capacity);
  void Restride(size_t stride);
  uint64_t Pack(const NftValue& value);
  void Release(uint64_t packed);
  NftValue Unpack(uint64_t packed) const;
  static bool OwnerLess(Owner a, Owner b);

  size_t stride_ = 0;
  std::vector<char> keys_;        // size() * stride_ bytes
  std::vector<uint16_t> lens_;    // each key's length
  std::vector<uint32_t> counts_;  // plain claims per key
  std::vector<Owned> owned_;      // parallel to lens_ once any valued claim was made
  std::vector<uint32_t> index_;   // slot+1 or kEmpty; linear probing
  // Keys with two or more valued owners: every (owner, value), sorted by owner.
  std::unordered_map<std::string, std::vector<std::pair<Owner, uint64_t>>> contested_;
  std::vector<Interned> values_;  // values that do not fit a word; refs == 0: free
  std::vector<uint32_t> free_values_;
  std::unordered_map<std::string, uint32_t> value_ids_;  // NftValue bytes -> index in values_
};

}  // namespace kpx
