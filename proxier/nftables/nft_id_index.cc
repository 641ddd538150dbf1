#include "proxier/nftables/nft_id_index.h"

#include <cassert>
#include <utility>

namespace kpx {

// The pooled texts' addresses, as ServicePortName's == compares them: no text is read.
size_t NftIdIndex::Hash(const ServicePortName& name) {
  size_t h = static_cast<size_t>(name.protocol);
  for (const PooledString* s : {&name.namespace_, &name.name, &name.port}) {
    h = (h ^ s->Hash()) * 0x9e3779b97f4a7c15;
  }
  return h ^ (h >> 29);
}

size_t NftIdIndex::Position(const ServicePortName& name) const {
  return index_.Find(Hash(name), [&](uint32_t slot) { return NameAt(slot) == name; });
}

NftIdIndex::Found NftIdIndex::Find(const ServicePortName& name) const {
  if (index_.size() == 0) return {};
  const uint32_t slot = index_.at(Position(name));
  if (slot == SlotIndex::kEmpty) return {};
  return {&NameAt(slot), IdAt(slot)};
}

const ServicePortName* NftIdIndex::Insert(const ServicePortName& name, uint32_t id) {
  assert(id != 0 && !contains(name));
  index_.Reserve([&](uint32_t slot) { return Hash(NameAt(slot)); });
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
  index_.Insert(Position(name), slot);
  return &chunk.names[slot % kChunk];
}

uint32_t NftIdIndex::Erase(const ServicePortName& name) {
  if (index_.size() == 0) return 0;
  const size_t pos = Position(name);
  const uint32_t slot = index_.at(pos);
  if (slot == SlotIndex::kEmpty) return 0;
  index_.Erase(pos, [&](uint32_t other) { return Hash(NameAt(other)); });
  // `name` may be the stored copy itself: it is not read after this.
  const uint32_t id = std::exchange(IdAt(slot), 0);
  chunks_[slot / kChunk]->names[slot % kChunk] = ServicePortName();
  free_.push_back(slot);
  return id;
}

}  // namespace kpx
