#include "proxier/nftables/nft_id_index.h"

#include <cassert>
#include <functional>
#include <string_view>
#include <utility>

namespace kpx {

size_t NftIdIndex::Hash(const ServicePortName& name) {
  size_t h = static_cast<size_t>(name.protocol);
  for (const PooledString* s : {&name.namespace_, &name.name, &name.port}) {
    h ^= std::hash<std::string_view>()(s->str()) + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2);
  }
  return h;
}

size_t NftIdIndex::Position(const ServicePortName& name) const {
  const size_t mask = index_.size() - 1;
  for (size_t pos = Hash(name) & mask;; pos = (pos + 1) & mask) {
    const uint32_t held = index_[pos];
    if (held == 0 || NameAt(held - 1) == name) return pos;
  }
}

NftIdIndex::Found NftIdIndex::Find(const ServicePortName& name) const {
  if (size_ == 0) return {};
  const uint32_t held = index_[Position(name)];
  if (held == 0) return {};
  return {&NameAt(held - 1), IdAt(held - 1)};
}

void NftIdIndex::Grow() {
  std::vector<uint32_t> old =
      std::exchange(index_, std::vector<uint32_t>(index_.empty() ? 16 : index_.size() * 2));
  for (const uint32_t held : old) {
    if (held != 0) index_[Position(NameAt(held - 1))] = held;
  }
}

const ServicePortName* NftIdIndex::Insert(const ServicePortName& name, uint32_t id) {
  assert(id != 0 && !contains(name));
  if ((size_ + 1) * 5 > index_.size() * 4) Grow();
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = slots_++;
    if (slot / kChunk == chunks_.size()) chunks_.push_back(std::make_unique<Chunk>());
  }
  Chunk& chunk = *chunks_[slot / kChunk];
  chunk.names[slot % kChunk] = name;
  chunk.ids[slot % kChunk] = id;
  index_[Position(name)] = slot + 1;
  ++size_;
  return &chunk.names[slot % kChunk];
}

uint32_t NftIdIndex::Erase(const ServicePortName& name) {
  if (size_ == 0) return 0;
  size_t hole = Position(name);
  const uint32_t held = index_[hole];
  if (held == 0) return 0;
  // Backward shift: each later entry of the probe run that may move into the hole does, so that
  // no lookup stops early at it and no tombstones build up.
  const size_t mask = index_.size() - 1;
  for (size_t pos = (hole + 1) & mask; index_[pos] != 0; pos = (pos + 1) & mask) {
    const size_t home = Hash(NameAt(index_[pos] - 1)) & mask;
    // Movable unless its home lies cyclically in (hole, pos].
    if (((pos - home) & mask) >= ((pos - hole) & mask)) {
      index_[hole] = index_[pos];
      hole = pos;
    }
  }
  index_[hole] = 0;
  // `name` may be the stored copy itself: it is not read after this.
  const uint32_t slot = held - 1;
  const uint32_t id = std::exchange(IdAt(slot), 0);
  chunks_[slot / kChunk]->names[slot % kChunk] = ServicePortName();
  free_.push_back(slot);
  --size_;
  return id;
}

}  // namespace kpx
