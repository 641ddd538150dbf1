#include "base/pooled_string.h"

#include <mutex>

#include "base/keyed_set.h"

namespace kpx {

namespace {

struct TextOf {
  std::string_view operator()(const PooledString::Rep& r) const { return r.text; }
};

struct Pool {
  std::mutex mu;
  // Node-based: a Rep's address is stable across rehashing, so it can be handed out, and the
  // Rep lives in the set's own node (one allocation per distinct text).
  KeyedSet<PooledString::Rep, TextOf> reps;
};

Pool& ThePool() {
  // Never destroyed: values may be released by static objects' destructors.
  static Pool* pool = new Pool();
  return *pool;
}

const std::string& Empty() {
  static const std::string* const empty = new std::string();
  return *empty;
}

}  // namespace

PooledString::PooledString(std::string_view text) : rep_(nullptr) {
  if (text.empty()) return;
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  auto it = pool.reps.find(text);
  if (it == pool.reps.end()) {
    if (pool.reps.empty()) pool.reps.max_load_factor(kKeyedSetLoadFactor);
    it = pool.reps.emplace(text).first;
  } else {
    // Under the lock: a count that reached zero is erased in the same critical section, so a
    // Rep found here is alive.
    it->refs.fetch_add(1, std::memory_order_relaxed);
  }
  rep_ = &*it;
}

const std::string& PooledString::str() const { return rep_ == nullptr ? Empty() : rep_->text; }

void PooledString::Unref() {
  if (rep_ == nullptr) return;
  // Above one, another holder keeps the Rep alive whatever happens concurrently. The last
  // reference drops under the lock, so a lookup never revives a Rep that is being erased.
  uint32_t n = rep_->refs.load(std::memory_order_relaxed);
  while (n > 1) {
    if (rep_->refs.compare_exchange_weak(n, n - 1, std::memory_order_release,
                                         std::memory_order_relaxed)) {
      rep_ = nullptr;
      return;
    }
  }
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  if (rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    pool.reps.erase(pool.reps.find(std::string_view(rep_->text)));
  }
  rep_ = nullptr;
}

size_t PooledString::PoolSize() {
  Pool& pool = ThePool();
  std::lock_guard<std::mutex> lock(pool.mu);
  return pool.reps.size();
}

}  // namespace kpx
