#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace kpx {

// A counted pointer to an immutable shared value: std::shared_ptr<const T> as make_shared builds
// it, without weak references, deleters or aliasing, so the count is 4 bytes before the value
// where make_shared's control block is 16. The desired state holds one per service port, 100 000s
// of them: the 12 bytes moved each entry down a malloc size class (1.6 MB at 100 000).
template <typename T>
class CountedPtr {
 public:
  CountedPtr() = default;
  CountedPtr(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
  // The value moved or copied in (callers build it, compare it with what they hold, and
  // allocate only for a change).
  static CountedPtr Make(T value) {
    CountedPtr p;
    p.node_ = new Node(std::move(value));
    return p;
  }
  CountedPtr(const CountedPtr& o) noexcept : node_(o.node_) {
    if (node_ != nullptr) node_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  CountedPtr(CountedPtr&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
  CountedPtr& operator=(CountedPtr o) noexcept {
    std::swap(node_, o.node_);
    return *this;
  }
  ~CountedPtr() { reset(); }

  void reset() {
    Node* n = std::exchange(node_, nullptr);
    if (n != nullptr && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete n;
  }
  const T* get() const { return node_ != nullptr ? &node_->value : nullptr; }
  const T& operator*() const { return node_->value; }
  const T* operator->() const { return &node_->value; }
  explicit operator bool() const { return node_ != nullptr; }
  // The same value (not merely equal ones).
  bool operator==(const CountedPtr& o) const { return node_ == o.node_; }
  bool operator==(std::nullptr_t) const { return node_ == nullptr; }

 private:
  struct Node {
    explicit Node(T v) : value(std::move(v)) {}
    std::atomic<uint32_t> refs{1};
    T value;
  };
  Node* node_ = nullptr;
};

}  // namespace kpx
