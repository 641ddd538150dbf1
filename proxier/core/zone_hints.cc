#include "proxier/core/zone_hints.h"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace kpx {

namespace {

// Id -> text, read without a lock on every topology decision: a fixed directory of chunks
// allocated as ids reach them. A text is written before its id is returned, and ids reach other
// threads only inside endpoint lists handed over under the core's own synchronization.
constexpr uint32_t kChunkBits = 10;
constexpr uint32_t kChunkSize = 1u << kChunkBits;
constexpr uint32_t kChunks = 4096;  // 4 M distinct lists

struct Table {
  std::mutex mu;
  std::unordered_map<std::string, uint32_t> ids;  // text -> id, for interning
  std::array<std::atomic<const std::string**>, kChunks> chunks{};
};

Table& TheTable() {
  // Never destroyed: values may be read by static objects' destructors.
  static Table* table = new Table();
  return *table;
}

uint32_t Intern(const std::string& joined) {
  if (joined.empty()) return 0;
  Table& t = TheTable();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.ids.find(joined);
  if (it != t.ids.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(t.ids.size()) + 1;
  if (id >= kChunks * kChunkSize) {
    // Unreachable with real zone names (lists of a cluster's zones); further lists are then
    // read as no hints, which topology treats as "use every endpoint", rather than failing.
    return 0;
  }
  auto& chunk = t.chunks[id >> kChunkBits];
  const std::string** slots = chunk.load(std::memory_order_relaxed);
  if (slots == nullptr) {
    slots = new const std::string*[kChunkSize]();
    chunk.store(slots, std::memory_order_release);
  }
  it = t.ids.emplace(joined, id).first;
  // The map's node is stable: its key is the text the id names.
  slots[id & (kChunkSize - 1)] = &it->first;
  return id;
}

const std::string& Text(uint32_t id) {
  static const std::string* const empty = new std::string();
  if (id == 0) return *empty;
  const std::string** slots = TheTable().chunks[id >> kChunkBits].load(std::memory_order_acquire);
  return *slots[id & (kChunkSize - 1)];
}

}  // namespace

ZoneHints::ZoneHints(const std::vector<std::string>& zones) {
  std::string joined;
  for (const std::string& z : zones) {
    if (!joined.empty()) joined += ',';
    joined += z;
  }
  id_ = Intern(joined);
}

bool ZoneHints::Contains(std::string_view zone) const {
  std::string_view rest = Text(id_);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    if (rest.substr(0, comma) == zone) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace kpx
