#include "proxier/ipvs/ipset_entry_counts.h"

#include <algorithm>
#include <cstring>

namespace kpx {

int IpsetEntryCounts::Width(const IpsetEntry& e) {
  // A bitmap entry's address is unused and always the default (an IPv4 zero); a hash entry's
  // address has its set's family. Anything else (and every net) goes to the map, so packing
  // loses nothing.
  if (e.net != Cidr()) return 0;
  if (IpsetEntrySetIsBitmap(e.set)) return e.ip == IpAddress() ? 4 : 0;
  if (e.ip.family() != IpsetEntrySetFamily(e.set)) return 0;
  return e.ip.family() == IpFamily::kIPv4 ? 4 : 16;
}

template <size_t N>
IpsetEntryCounts::Slot<N> IpsetEntryCounts::Pack(const IpsetEntry& e) {
  Slot<N> s;
  s.set = e.set;
  s.protocol = static_cast<uint8_t>(e.protocol);
  s.port = e.port;
  std::copy_n(e.ip.bytes().begin(), N, s.ip.begin());
  return s;
}

template <size_t N>
IpsetEntry IpsetEntryCounts::Unpack(const Slot<N>& s, IpFamily family) {
  IpsetEntry e;
  e.set = s.set;
  e.protocol = static_cast<Protocol>(s.protocol);
  e.port = s.port;
  if (!IpsetEntrySetIsBitmap(s.set)) {
    std::array<uint8_t, 16> bytes{};
    std::copy_n(s.ip.begin(), N, bytes.begin());
    e.ip = IpAddress::FromBytes(family, bytes);
  }
  return e;
}

template <size_t N>
size_t IpsetEntryCounts::Table<N>::Hash(const Slot<N>& s) {
  std::array<uint8_t, 16> bytes{};
  std::copy_n(s.ip.begin(), N, bytes.begin());
  uint64_t a, b;
  std::memcpy(&a, bytes.data(), 8);
  std::memcpy(&b, bytes.data() + 8, 8);
  uint64_t h = (uint64_t{s.set} << 24 | uint64_t{s.protocol} << 16 | s.port) * 0x9e3779b97f4a7c15u;
  for (uint64_t w : {a, b}) {
    h ^= w + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 32;
  }
  return static_cast<size_t>(h);
}

template <size_t N>
size_t IpsetEntryCounts::Table<N>::Probe(const Slot<N>& key) const {
  const size_t mask = index_.size() - 1;
  for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
    if (index_[i] == kEmpty || slots_[index_[i] - 1].SameKey(key)) return i;
  }
}

template <size_t N>
void IpsetEntryCounts::Table<N>::Rehash(size_t capacity) {
  index_.assign(capacity, kEmpty);
  const size_t mask = capacity - 1;
  for (uint32_t s = 0; s < slots_.size(); ++s) {
    size_t i = Hash(slots_[s]) & mask;
    while (index_[i] != kEmpty) i = (i + 1) & mask;
    index_[i] = s + 1;
  }
}

template <size_t N>
void IpsetEntryCounts::Table<N>::Reserve(size_t n) {
  if (n == 0) return;
  slots_.reserve(n);
  size_t capacity = index_.empty() ? 16 : index_.size();
  while (capacity < 2 * n) capacity *= 2;
  if (capacity != index_.size()) Rehash(capacity);
}

template <size_t N>
uint32_t IpsetEntryCounts::Table<N>::Count(const Slot<N>& key) const {
  if (index_.empty()) return 0;
  const size_t i = Probe(key);
  return index_[i] == kEmpty ? 0 : slots_[index_[i] - 1].count;
}

template <size_t N>
bool IpsetEntryCounts::Table<N>::Add(const Slot<N>& key) {
  if (2 * (slots_.size() + 1) > index_.size()) Rehash(index_.empty() ? 16 : 2 * index_.size());
  const size_t i = Probe(key);
  if (index_[i] != kEmpty) {
    ++slots_[index_[i] - 1].count;
    return false;
  }
  slots_.push_back(key);
  slots_.back().count = 1;
  index_[i] = static_cast<uint32_t>(slots_.size());
  return true;
}

template <size_t N>
bool IpsetEntryCounts::Table<N>::Remove(const Slot<N>& key) {
  if (index_.empty()) return false;
  size_t hole = Probe(key);
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

template <size_t N>
void IpsetEntryCounts::Table<N>::Clear() {
  std::vector<Slot<N>>().swap(slots_);
  std::vector<uint32_t>().swap(index_);
}

uint32_t IpsetEntryCounts::Count(const IpsetEntry& e) const {
  switch (Width(e)) {
    case 4:
      return v4_.Count(Pack<4>(e));
    case 16:
      return v6_.Count(Pack<16>(e));
    default: {
      auto it = wide_.find(e);
      return it == wide_.end() ? 0 : it->second;
    }
  }
}

bool IpsetEntryCounts::Counted(const IpsetEntry& e, bool changed, int delta) {
  if (changed && e.set < distinct_.size()) distinct_[e.set] += delta;
  return changed;
}

IpsetPresence IpsetEntryCounts::Presence() const {
  IpsetPresence out;
  for (size_t i = 0; i < distinct_.size(); ++i) out[i] = distinct_[i] != 0;
  return out;
}

bool IpsetEntryCounts::Add(const IpsetEntry& e) {
  switch (Width(e)) {
    case 4:
      return Counted(e, v4_.Add(Pack<4>(e)), 1);
    case 16:
      return Counted(e, v6_.Add(Pack<16>(e)), 1);
    default:
      return Counted(e, ++wide_[e] == 1, 1);
  }
}

bool IpsetEntryCounts::Remove(const IpsetEntry& e) {
  switch (Width(e)) {
    case 4:
      return Counted(e, v4_.Remove(Pack<4>(e)), -1);
    case 16:
      return Counted(e, v6_.Remove(Pack<16>(e)), -1);
    default: {
      auto it = wide_.find(e);
      if (it == wide_.end() || --it->second != 0) return false;
      wide_.erase(it);
      return Counted(e, true, -1);
    }
  }
}

void IpsetEntryCounts::Reserve(size_t v4, size_t v6) {
  v4_.Reserve(v4);
  v6_.Reserve(v6);
}

void IpsetEntryCounts::Clear() {
  distinct_.fill(0);
  v4_.Clear();
  v6_.Clear();
  wide_.clear();
}

size_t IpsetEntryCounts::HeapBytes() const {
  // A map node is its value plus the tree's node header (four words).
  return v4_.HeapBytes() + v6_.HeapBytes() +
         wide_.size() * (sizeof(std::pair<const IpsetEntry, uint32_t>) + 4 * sizeof(void*));
}

template class IpsetEntryCounts::Table<4>;
template class IpsetEntryCounts::Table<16>;
// ForEach, in the header, unpacks in its callers' translation units.
template IpsetEntry IpsetEntryCounts::Unpack<4>(const Slot<4>&, IpFamily);
template IpsetEntry IpsetEntryCounts::Unpack<16>(const Slot<16>&, IpFamily);

}  // namespace kpx
