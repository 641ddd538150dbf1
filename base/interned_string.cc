#include "base/interned_string.h"

#include <functional>
#include <mutex>
#include <unordered_set>

namespace kpx {

namespace {

// Transparent, so a lookup of text already interned allocates nothing.
struct Hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Pool {
  std::mutex mu;
  // Node-based: an element's address is stable across rehashing, so it can be handed out.
  std::unordered_set<std::string, Hash, std::equal_to<>> strings;
};

Pool& ThePool() {
  // Never destroyed: values may be read by static objects' destructors.
  static Pool* pool = new Pool();
  return *pool;
}

const std::string* Intern(std::string_view text) {
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  auto it = pool.strings.find(text);
  if (it == pool.strings.end()) it = pool.strings.emplace(text).first;
  return &*it;
}

}  // namespace

InternedString::InternedString() {
  static const std::string* const empty = Intern("");
  text_ = empty;
}

InternedString::InternedString(std::string_view text) : text_(Intern(text)) {}

}  // namespace kpx
