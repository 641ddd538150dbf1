#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "base/slot_index.h"
#include "proxier/core/service_port_name.h"

namespace kpx {

// The nftables service id of every service port that has one, and a copy of the port's name
// that stays at one address for as long as the id is held: the claims of shared elements name
// their owner by that address (NftClaimSet::Owner).
//
// Compact because it holds one entry per service port (100 000 at scale): the names and ids live
// in fixed chunks of kChunk slots that never move (a freed slot is reused by the next insert),
// found through a SlotIndex. 36 bytes a port plus 5 to 10 of
// index, where a std::map<ServicePortName, uint32_t> node was an 80-byte malloc chunk (issue 15:
// 3 MiB at 100 000 Services). The chunks are kept at the largest number of ports held at once.
class NftIdIndex {
 public:
  NftIdIndex() = default;
  // A move keeps the stored names where they are (the chunks move as pointers); a copy would
  // not be what the claims point at.
  NftIdIndex(NftIdIndex&&) noexcept = default;
  NftIdIndex& operator=(NftIdIndex&&) noexcept = default;

  // What is held for one name: the stored copy of it (null when it has no id) and its id.
  struct Found {
    const ServicePortName* name = nullptr;
    uint32_t id = 0;
  };
  Found Find(const ServicePortName& name) const;
  bool contains(const ServicePortName& name) const { return Find(name).name != nullptr; }
  // Gives `name`, which must have no id yet, the id `id` (never 0); returns the stored copy of
  // the name, which stays where it is until the name is erased.
  const ServicePortName* Insert(const ServicePortName& name, uint32_t id);
  // Forgets the id of `name`; returns it, or 0 when it had none.
  uint32_t Erase(const ServicePortName& name);
  // Calls f(name, id) for every port that has an id, in no particular order, and forgets the ids
  // of those it returns true for.
  template <typename F>
  void EraseIf(F&& f) {
    for (uint32_t slot = 0; slot < slots_; ++slot) {
      const Chunk& chunk = *chunks_[slot / kChunk];
      const uint32_t id = chunk.ids[slot % kChunk];
      if (id != 0 && f(std::as_const(chunk.names[slot % kChunk]), id)) {
        Erase(chunk.names[slot % kChunk]);
      }
    }
  }
  size_t size() const { return index_.size(); }

  // Slots per chunk: ~9 KiB each.
  static constexpr uint32_t kChunk = 256;

 private:
  struct Chunk {
    ServicePortName names[kChunk];
    uint32_t ids[kChunk] = {};  // 0: the slot is free
  };
  static size_t Hash(const ServicePortName& name);
  const ServicePortName& NameAt(uint32_t slot) const {
    return chunks_[slot / kChunk]->names[slot % kChunk];
  }
  uint32_t& IdAt(uint32_t slot) const { return chunks_[slot / kChunk]->ids[slot % kChunk]; }
  // The index position holding `name`'s slot, or the empty position where it would go.
  size_t Position(const ServicePortName& name) const;

  std::vector<std::unique_ptr<Chunk>> chunks_;
  uint32_t slots_ = 0;          // slots ever used: the chunks hold [0, slots_)
  std::vector<uint32_t> free_;  // freed slots below slots_, reused first
  SlotIndex index_;
};

}  // namespace kpx
