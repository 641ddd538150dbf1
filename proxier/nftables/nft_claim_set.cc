#include "proxier/nftables/nft_claim_set.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstring>
#include <functional>

namespace kpx {

namespace {

size_t HashKey(std::string_view key) { return std::hash<std::string_view>{}(key); }

// Where a hash starts probing in an index of `cap` positions: the hash's top 32 bits scaled to
// the range, so `cap` need not be a power of two and the index can be sized to the keys.
size_t Home(size_t hash, size_t cap) {
  return static_cast<size_t>(((static_cast<uint64_t>(hash) >> 32) * cap) >> 32);
}

// Index sizes: grown to twice the keys at 3/4 full, shrunk at 1/6 full, and set to 3/2 of them
// after a full sync (Compact).
constexpr size_t kMinIndex = 16;
size_t GrowTo(size_t n) { return std::max(kMinIndex, 2 * n); }
size_t CompactTo(size_t n) { return std::max(kMinIndex, n + n / 2 + 1); }

// Reallocates `v` to its size plus an eighth (room for the partial syncs that follow) when it
// holds much more than that.
template <typename T>
void Trim(std::vector<T>& v) {
  const size_t want = v.size() + v.size() / 8 + 16;
  if (v.capacity() <= want + want / 8) return;
  std::vector<T> out;
  out.reserve(want);
  out.assign(v.begin(), v.end());
  v.swap(out);
}

// Interning key of a value that does not fit a word.
std::string ValueBytes(const NftValue& v) {
  std::string s;
  s.reserve(8 + v.data.size() + v.chain.size());
  s.push_back(v.is_verdict ? 'v' : 'd');
  s.append(reinterpret_cast<const char*>(&v.verdict), sizeof(v.verdict));
  const auto len = static_cast<uint32_t>(v.data.size());
  s.append(reinterpret_cast<const char*>(&len), sizeof(len));
  s += v.data;
  s += v.chain;
  return s;
}

}  // namespace

bool NftClaimSet::OwnerLess(Owner a, Owner b) {
  if (a == b) return false;
  if (a == nullptr) return true;
  if (b == nullptr) return false;
  // Name text first, as owners always sorted; the full name only tells apart two ports whose
  // text is the same (it leaves out the protocol).
  const std::string ta = a->ToString(), tb = b->ToString();
  if (ta != tb) return ta < tb;
  return *a < *b;
}

uint64_t NftClaimSet::Pack(const NftValue& value) {
  if (!value.is_verdict && value.verdict == 0 && value.chain.empty() && value.data.size() == 4) {
    uint32_t word = 0;
    std::memcpy(&word, value.data.data(), 4);
    return kInline | word;
  }
  std::string bytes = ValueBytes(value);
  auto it = value_ids_.find(bytes);
  if (it != value_ids_.end()) {
    ++values_[it->second].refs;
    return uint64_t{it->second} + 1;
  }
  uint32_t id;
  if (!free_values_.empty()) {
    id = free_values_.back();
    free_values_.pop_back();
  } else {
    id = static_cast<uint32_t>(values_.size());
    values_.emplace_back();
  }
  values_[id] = Interned{value, 1};
  value_ids_.emplace(std::move(bytes), id);
  return uint64_t{id} + 1;
}

void NftClaimSet::Release(uint64_t packed) {
  if (packed == 0 || (packed & kInline) != 0) return;
  const auto id = static_cast<uint32_t>(packed - 1);
  if (--values_[id].refs != 0) return;
  value_ids_.erase(ValueBytes(values_[id].value));
  values_[id].value = NftValue{};
  free_values_.push_back(id);
}

NftValue NftClaimSet::Unpack(uint64_t packed) const {
  if (packed == 0) return NftValue{};
  if ((packed & kInline) != 0) {
    const auto word = static_cast<uint32_t>(packed);
    NftValue v;
    v.data.assign(reinterpret_cast<const char*>(&word), 4);
    return v;
  }
  return values_[packed - 1].value;
}

NftValue NftClaimSet::Value(uint32_t slot) const {
  if (owned_.empty()) return NftValue{};
  return Unpack(owned_[slot].value);
}

size_t NftClaimSet::Probe(std::string_view key) const {
  const size_t cap = index_.size();
  size_t p = Home(HashKey(key), cap);
  while (index_[p] != kEmpty && KeyAt(index_[p] - 1) != key) p = p + 1 == cap ? 0 : p + 1;
  return p;
}

size_t NftClaimSet::PositionOf(uint32_t slot) const {
  const size_t cap = index_.size();
  size_t p = Home(HashKey(KeyAt(slot)), cap);
  while (index_[p] != slot + 1) p = p + 1 == cap ? 0 : p + 1;
  return p;
}

std::optional<uint32_t> NftClaimSet::Find(std::string_view key) const {
  if (index_.empty()) return std::nullopt;
  const uint32_t v = index_[Probe(key)];
  if (v == kEmpty) return std::nullopt;
  return v - 1;
}

void NftClaimSet::Rehash(size_t capacity) {
  index_ = std::vector<uint32_t>(capacity, kEmpty);  // assign() would keep a larger capacity
  for (uint32_t s = 0; s < size(); ++s) {
    size_t p = Home(HashKey(KeyAt(s)), capacity);
    while (index_[p] != kEmpty) p = p + 1 == capacity ? 0 : p + 1;
    index_[p] = s + 1;
  }
}

void NftClaimSet::Compact() {
  Trim(keys_);
  Trim(lens_);
  Trim(counts_);
  Trim(owned_);
  if (index_.size() > CompactTo(size()) + CompactTo(size()) / 8) Rehash(CompactTo(size()));
}

void NftClaimSet::Restride(size_t stride) {
  std::vector<char> keys(size() * stride);
  for (uint32_t s = 0; s < size(); ++s) {
    std::memcpy(keys.data() + static_cast<size_t>(s) * stride, KeyAt(s).data(), lens_[s]);
  }
  keys_ = std::move(keys);
  stride_ = stride;
}

uint32_t NftClaimSet::Insert(std::string_view key) {
  if (key.size() > stride_) Restride(key.size());
  // The index is rebuilt from the arena, which holds every key.
  if ((size() + 1) * 4 > index_.size() * 3) Rehash(GrowTo(size() + 1));
  const auto slot = static_cast<uint32_t>(size());
  keys_.resize(keys_.size() + stride_);
  std::memcpy(keys_.data() + static_cast<size_t>(slot) * stride_, key.data(), key.size());
  lens_.push_back(static_cast<uint16_t>(key.size()));
  counts_.push_back(0);
  if (!owned_.empty()) owned_.emplace_back();
  index_[Probe(key)] = slot + 1;
  return slot;
}

void NftClaimSet::Erase(uint32_t slot) {
  // Backward-shift deletion: entries after the hole that may live there move up, so lookups
  // never need tombstones.
  const size_t cap = index_.size();
  size_t hole = PositionOf(slot);
  for (size_t j = hole + 1 == cap ? 0 : hole + 1; index_[j] != kEmpty;
       j = j + 1 == cap ? 0 : j + 1) {
    const size_t home = Home(HashKey(KeyAt(index_[j] - 1)), cap);
    const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      index_[hole] = index_[j];
      hole = j;
    }
  }
  index_[hole] = kEmpty;
  // The last slot fills the hole, so the arena stays dense.
  const auto last = static_cast<uint32_t>(size() - 1);
  if (slot != last) {
    index_[PositionOf(last)] = slot + 1;
    std::memcpy(keys_.data() + static_cast<size_t>(slot) * stride_,
                keys_.data() + static_cast<size_t>(last) * stride_, stride_);
    lens_[slot] = lens_[last];
    counts_[slot] = counts_[last];
    if (!owned_.empty()) owned_[slot] = owned_[last];
  }
  keys_.resize(keys_.size() - stride_);
  lens_.pop_back();
  counts_.pop_back();
  if (!owned_.empty()) owned_.pop_back();
  if (size() * 6 < index_.size() && index_.size() > kMinIndex) {
    // Mostly emptied (Services deleted): give the memory back.
    Rehash(GrowTo(size()));
    keys_.shrink_to_fit();
    lens_.shrink_to_fit();
    counts_.shrink_to_fit();
    owned_.shrink_to_fit();
  }
}

void NftClaimSet::Add(std::string_view key, Owner owner, const NftValue& value) {
  if (key.size() > UINT16_MAX) {
    LOG(ERROR) << "nftables: element key of " << key.size() << " bytes ignored";
    return;
  }
  std::optional<uint32_t> found = Find(key);
  const uint32_t slot = found ? *found : Insert(key);
  if (value == NftValue{}) {
    ++counts_[slot];
    return;
  }
  if (owned_.size() < size()) owned_.resize(size());
  const uint64_t packed = Pack(value);
  Owned& o = owned_[slot];
  if (o.value == 0) {
    o = Owned{owner, packed};
    return;
  }
  auto c = contested_.empty() ? contested_.end() : contested_.find(std::string(key));
  if (c == contested_.end()) {
    if (o.owner == owner) {
      Release(o.value);
      o.value = packed;
      return;
    }
    c = contested_.emplace(std::string(key), std::vector<std::pair<Owner, uint64_t>>{}).first;
    c->second.emplace_back(o.owner, o.value);  // the claim's reference moves with it
  }
  auto& v = c->second;
  auto it = std::find_if(v.begin(), v.end(), [&](const auto& p) { return p.first == owner; });
  if (it != v.end()) {
    Release(it->second);
    it->second = packed;
  } else {
    auto at =
        std::find_if(v.begin(), v.end(), [&](const auto& p) { return OwnerLess(owner, p.first); });
    v.insert(at, {owner, packed});
  }
  o = Owned{v.front().first, v.front().second};
}

void NftClaimSet::Remove(std::string_view key, Owner owner, const NftValue& value) {
  const std::optional<uint32_t> found = Find(key);
  if (!found) return;
  const uint32_t slot = *found;
  if (value == NftValue{}) {
    if (counts_[slot] > 0) --counts_[slot];
  } else if (!owned_.empty() && owned_[slot].value != 0) {
    Owned& o = owned_[slot];
    auto c = contested_.empty() ? contested_.end() : contested_.find(std::string(key));
    if (c == contested_.end()) {
      if (o.owner != owner) return;
      Release(o.value);
      o = Owned{};
    } else {
      auto& v = c->second;
      auto it = std::find_if(v.begin(), v.end(), [&](const auto& p) { return p.first == owner; });
      if (it != v.end()) {
        Release(it->second);
        v.erase(it);
      }
      o = Owned{v.front().first, v.front().second};
      if (v.size() == 1) contested_.erase(c);  // the last claim's reference is o's again
    }
  }
  if (counts_[slot] == 0 && (owned_.empty() || owned_[slot].value == 0)) Erase(slot);
}

std::optional<NftValue> NftClaimSet::Effective(std::string_view key) const {
  const std::optional<uint32_t> slot = Find(key);
  if (!slot) return std::nullopt;
  return Value(*slot);
}

void NftClaimSet::Clear() { *this = NftClaimSet{}; }

size_t NftClaimSet::HeapBytes() const {
  size_t n = keys_.capacity() + lens_.capacity() * sizeof(uint16_t) +
             counts_.capacity() * sizeof(uint32_t) + owned_.capacity() * sizeof(Owned) +
             index_.capacity() * sizeof(uint32_t) + values_.capacity() * sizeof(Interned) +
             free_values_.capacity() * sizeof(uint32_t);
  for (const auto& [key, v] : contested_) n += key.capacity() + v.capacity() * sizeof(v[0]);
  return n;
}

}  // namespace kpx
