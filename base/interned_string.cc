#include "base/interned_string.h"

#include <array>
#include <atomic>
#include <mutex>

#include "base/keyed_set.h"

namespace kpx {

namespace {

struct TextOf {
  std::string_view operator()(const InternedString::Entry& e) const { return e.text; }
};

// Number -> entry, read without a lock: a fixed directory of chunks allocated as numbers reach
// them. An entry is written before its number is handed out, and numbers reach other threads
// only inside objects handed over under their owners' own synchronization.
constexpr uint32_t kChunkBits = 10;
constexpr uint32_t kChunkSize = 1u << kChunkBits;
constexpr uint32_t kChunks = InternedString::kMaxIndexed / kChunkSize;

struct Pool {
  std::mutex mu;
  // Node-based: an entry's address is stable across rehashing, so it can be handed out.
  KeyedSet<InternedString::Entry, TextOf> entries;
  uint32_t next_index = 0;
  std::array<std::atomic<const InternedString::Entry**>, kChunks> chunks{};
};

const InternedString::Entry* Intern(Pool& pool, std::string_view text) {
  auto it = pool.entries.find(text);
  if (it != pool.entries.end()) return &*it;
  const bool numbered = pool.next_index < InternedString::kMaxIndexed;
  const uint32_t index = numbered ? pool.next_index++ : 0;
  it = pool.entries.emplace(text, index).first;
  if (numbered) {
    auto& chunk = pool.chunks[index >> kChunkBits];
    const InternedString::Entry** slots = chunk.load(std::memory_order_relaxed);
    if (slots == nullptr) {
      slots = new const InternedString::Entry*[kChunkSize]();
      chunk.store(slots, std::memory_order_release);
    }
    slots[index & (kChunkSize - 1)] = &*it;
  }
  return &*it;
}

Pool& ThePool() {
  // Never destroyed: values may be read by static objects' destructors. The empty text is
  // number 0.
  static Pool* pool = [] {
    auto* p = new Pool();
    Intern(*p, "");
    return p;
  }();
  return *pool;
}

const InternedString::Entry* Lookup(std::string_view text) {
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  return Intern(pool, text);
}

}  // namespace

InternedString::InternedString() : InternedString(AtIndex(0)) {}

InternedString::InternedString(std::string_view text) : entry_(Lookup(text)) {}

InternedString InternedString::AtIndex(uint32_t index) {
  const Entry** slots = ThePool().chunks[index >> kChunkBits].load(std::memory_order_acquire);
  return InternedString(slots[index & (kChunkSize - 1)]);
}

}  // namespace kpx
