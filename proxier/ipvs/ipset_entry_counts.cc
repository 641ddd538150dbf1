#include "proxier/ipvs/ipset_entry_counts.h"

#include <cstring>

namespace kpx {

std::optional<IpsetEntryCounts::Slot> IpsetEntryCounts::Pack(const IpsetEntry& e) {
  // A bitmap entry's address is unused and always the default; a hash entry's address has its
  // set's family. Anything else (and every net) goes to the map, so packing loses nothing.
  const bool bitmap = IpsetEntrySetIsBitmap(e.set);
  if (e.net != Cidr()) return std::nullopt;
  if (bitmap ? e.ip != IpAddress() : e.ip.family() != IpsetEntrySetFamily(e.set)) {
    return std::nullopt;
  }
  Slot s;
  s.set = e.set;
  s.protocol = static_cast<uint8_t>(e.protocol);
  s.port = e.port;
  s.ip = e.ip.bytes();
  return s;
}

IpsetEntry IpsetEntryCounts::Unpack(const Slot& s) {
  IpsetEntry e;
  e.set = s.set;
  e.protocol = static_cast<Protocol>(s.protocol);
  e.port = s.port;
  if (!IpsetEntrySetIsBitmap(s.set)) e.ip = IpAddress::FromBytes(IpsetEntrySetFamily(s.set), s.ip);
  return e;
}

size_t IpsetEntryCounts::Hash(const Slot& s) {
  uint64_t a, b;
  std::memcpy(&a, s.ip.data(), 8);
  std::memcpy(&b, s.ip.data() + 8, 8);
  uint64_t h = (uint64_t{s.set} << 24 | uint64_t{s.protocol} << 16 | s.port) * 0x9e3779b97f4a7c15u;
  for (uint64_t w : {a, b}) {
    h ^= w + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 32;
  }
  return static_cast<size_t>(h);
}

size_t IpsetEntryCounts::Probe(const Slot& key) const {
  const size_t mask = index_.size() - 1;
  for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
    if (index_[i] == kEmpty || slots_[index_[i] - 1].SameKey(key)) return i;
  }
}

void IpsetEntryCounts::Rehash(size_t capacity) {
  index_.assign(capacity, kEmpty);
  const size_t mask = capacity - 1;
  for (uint32_t s = 0; s < slots_.size(); ++s) {
    size_t i = Hash(slots_[s]) & mask;
    while (index_[i] != kEmpty) i = (i + 1) & mask;
    index_[i] = s + 1;
  }
}

void IpsetEntryCounts::Reserve(size_t n) {
  slots_.reserve(n);
  size_t capacity = index_.empty() ? 16 : index_.size();
  while (capacity < 2 * n) capacity *= 2;
  if (capacity != index_.size()) Rehash(capacity);
}

uint32_t IpsetEntryCounts::Count(const IpsetEntry& e) const {
  const std::optional<Slot> key = Pack(e);
  if (!key) {
    auto it = wide_.find(e);
    return it == wide_.end() ? 0 : it->second;
  }
  if (index_.empty()) return 0;
  const size_t i = Probe(*key);
  return index_[i] == kEmpty ? 0 : slots_[index_[i] - 1].count;
}

bool IpsetEntryCounts::Add(const IpsetEntry& e) {
  const std::optional<Slot> key = Pack(e);
  if (!key) return ++wide_[e] == 1;
  if (2 * (slots_.size() + 1) > index_.size()) Rehash(index_.empty() ? 16 : 2 * index_.size());
  const size_t i = Probe(*key);
  if (index_[i] != kEmpty) {
    ++slots_[index_[i] - 1].count;
    return false;
  }
  slots_.push_back(*key);
  slots_.back().count = 1;
  index_[i] = static_cast<uint32_t>(slots_.size());
  return true;
}

bool IpsetEntryCounts::Remove(const IpsetEntry& e) {
  const std::optional<Slot> key = Pack(e);
  if (!key) {
    auto it = wide_.find(e);
    if (it == wide_.end() || --it->second != 0) return false;
    wide_.erase(it);
    return true;
  }
  if (index_.empty()) return false;
  size_t hole = Probe(*key);
  if (index_[hole] == kEmpty) return false;
  const uint32_t slot = index_[hole] - 1;
  if (--slots_[slot].count != 0) return false;

  // Linear probing without tombstones: close the hole by moving back every later entry of the
  // run that may not sit past it (its home position is not cyclically in (hole, j]).
  const size_t mask = index_.size() - 1;
  for (size_t j = (hole + 1) & mask; index_[j] != kEmpty; j = (j + 1) & mask) {
    const size_t home = Hash(slots_[index_[j] - 1]) & mask;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    index_[hole] = index_[j];
    hole = j;
  }
  index_[hole] = kEmpty;

  // Keep the slots dense: the last one moves into the freed slot, and its index entry follows.
  const uint32_t last = static_cast<uint32_t>(slots_.size() - 1);
  if (slot != last) {
    const size_t at = Probe(slots_[last]);
    slots_[slot] = slots_[last];
    index_[at] = slot + 1;
  }
  slots_.pop_back();
  return true;
}

void IpsetEntryCounts::Clear() {
  std::vector<Slot>().swap(slots_);
  std::vector<uint32_t>().swap(index_);
  wide_.clear();
}

size_t IpsetEntryCounts::HeapBytes() const {
  // A map node is its value plus the tree's node header (four words).
  return slots_.capacity() * sizeof(Slot) + index_.capacity() * sizeof(uint32_t) +
         wide_.size() * (sizeof(std::pair<const IpsetEntry, uint32_t>) + 4 * sizeof(void*));
}

}  // namespace kpx
