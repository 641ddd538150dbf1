#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

namespace kpx {

// A sorted map with value semantics whose copies share structure: copying is O(1) and a change
// to one copy costs O(log n) new nodes and leaves every other copy as it was (an AVL tree with
// path copying). The desired state is snapshotted on every sync and kept by the proxiers to
// compare against the next one; with std::map each snapshot copied every service port, the
// largest cost of a one-endpoint sync at 10 000 services.
//
// Nodes a copy shares are immutable, so copies may be read and destroyed on different threads
// (the reference counts are atomic); one copy must not be written on two threads at once, as for
// any standard container. Nodes no other copy holds are changed in place (an insert into a map
// built up without copies copies no node). Iterators are invalidated by any change to the copy they
// came from.
template <typename K, typename V, typename Compare = std::less<K>>
class PersistentMap {
 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<const K, V>;
  using size_type = std::size_t;

 private:
  struct Node;
  // A counted reference to an immutable node, held inside the node itself: a shared_ptr's
  // control block and a separately allocated key/value pair took 136 bytes a node where this
  // takes one allocation of 72 (with ServiceMap's 48-byte entries).
  class NodePtr {
   public:
    NodePtr() = default;
    NodePtr(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
    // Adopts a node just made, whose count is already one.
    static NodePtr Adopt(const Node* n) {
      NodePtr p;
      p.n_ = n;
      return p;
    }
    NodePtr(const NodePtr& o) noexcept : n_(o.n_) {
      if (n_) n_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    NodePtr(NodePtr&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
    NodePtr& operator=(NodePtr o) noexcept {
      std::swap(n_, o.n_);
      return *this;
    }
    ~NodePtr() { reset(); }
    void reset() noexcept {
      if (n_ && n_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete n_;
      n_ = nullptr;
    }
    const Node* get() const { return n_; }
    const Node* operator->() const { return n_; }
    const Node& operator*() const { return *n_; }
    explicit operator bool() const { return n_ != nullptr; }
    bool operator==(const NodePtr& o) const { return n_ == o.n_; }

   private:
    const Node* n_ = nullptr;
  };
  // The entry lives in the node: path copying and rebalancing copy the entries of the O(log n)
  // nodes they replace, so K and V should be cheap to copy (ServiceMap's are a pooled name and a
  // shared_ptr).
  struct Node {
    Node(value_type entry, NodePtr l, NodePtr r, int h)
        : height(h), left(std::move(l)), right(std::move(r)), kv(std::move(entry)) {}
    mutable std::atomic<uint32_t> refs{1};
    int height;
    NodePtr left;
    NodePtr right;
    value_type kv;
  };
  // An AVL tree of 2^32 nodes is at most 1.44 * 32 + 2 levels deep.
  static constexpr int kMaxDepth = 48;

 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = PersistentMap::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return stack_[depth_ - 1]->kv; }
    pointer operator->() const { return &stack_[depth_ - 1]->kv; }
    const_iterator& operator++() {
      const Node* n = stack_[--depth_];
      for (const Node* c = n->right.get(); c; c = c->left.get()) stack_[depth_++] = c;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& o) const {
      if (depth_ == 0 || o.depth_ == 0) return depth_ == o.depth_;
      return stack_[depth_ - 1] == o.stack_[o.depth_ - 1];
    }

   private:
    friend class PersistentMap;
    // The nodes still to visit: the current one on top, below it the ancestors whose keys follow.
    std::array<const Node*, kMaxDepth> stack_{};
    int depth_ = 0;
  };
  using iterator = const_iterator;

  PersistentMap() = default;

  size_type size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    root_.reset();
    size_ = 0;
  }

  const_iterator begin() const {
    const_iterator it;
    for (const Node* n = root_.get(); n; n = n->left.get()) it.stack_[it.depth_++] = n;
    return it;
  }
  const_iterator end() const { return const_iterator(); }

  const_iterator find(const K& key) const {
    const_iterator it;
    const Compare less;
    for (const Node* n = root_.get(); n;) {
      if (less(key, n->kv.first)) {
        it.stack_[it.depth_++] = n;
        n = n->left.get();
      } else if (less(n->kv.first, key)) {
        n = n->right.get();
      } else {
        it.stack_[it.depth_++] = n;
        return it;
      }
    }
    return end();
  }
  // The first entry whose key is not less than `key`, as std::map::lower_bound: with keys that
  // sort by a prefix, the start of that prefix's range.
  const_iterator lower_bound(const K& key) const {
    const_iterator it;
    const Compare less;
    for (const Node* n = root_.get(); n;) {
      if (less(n->kv.first, key)) {
        n = n->right.get();
      } else {
        it.stack_[it.depth_++] = n;
        n = n->left.get();
      }
    }
    return it;
  }
  bool contains(const K& key) const { return Lookup(key) != nullptr; }
  size_type count(const K& key) const { return contains(key) ? 1 : 0; }
  const V& at(const K& key) const {
    const value_type* kv = Lookup(key);
    if (!kv) throw std::out_of_range("PersistentMap::at: no such key");
    return kv->second;
  }

  // Sets `key` to `value`, replacing any value it had; true when the key was new.
  // The arguments are forwarded, not taken by value, so that `insert_or_assign(p->name,
  // std::move(p))` reads the key before the value is moved from, as with std::map.
  template <typename KK, typename VV>
  bool insert_or_assign(KK&& key, VV&& value) {
    bool added = false;
    value_type kv(std::forward<KK>(key), std::forward<VV>(value));
    InsertOwned(root_, kv, /*replace=*/true, added);
    if (added) ++size_;
    return added;
  }
  // Adds `key` only if it is absent, like std::map::emplace.
  template <typename KK, typename VV>
  std::pair<const_iterator, bool> emplace(KK&& key, VV&& value) {
    if (const_iterator it = find(key); it != end()) return {it, false};
    value_type kv(std::forward<KK>(key), std::forward<VV>(value));
    const K k = kv.first;
    bool added = false;
    InsertOwned(root_, kv, /*replace=*/false, added);
    ++size_;
    return {find(k), true};
  }
  // For callers written against std::map; the hint is not needed for O(log n).
  template <typename KK, typename VV>
  const_iterator emplace_hint(const_iterator /*hint*/, KK&& key, VV&& value) {
    return emplace(std::forward<KK>(key), std::forward<VV>(value)).first;
  }
  size_type erase(const K& key) {
    bool removed = false;
    root_ = Erase(root_, key, removed);
    if (removed) --size_;
    return removed ? 1 : 0;
  }

  // True when both hold equal keys and values. Copies of one map compare in O(1) when unchanged.
  bool operator==(const PersistentMap& o) const {
    if (size_ != o.size_) return false;
    if (root_ == o.root_) return true;
    for (auto a = begin(), b = o.begin(); a != end(); ++a, ++b) {
      if (!(a->first == b->first) || !(a->second == b->second)) return false;
    }
    return true;
  }

  // The tree's height, for tests of the balance invariant.
  int height() const { return Height(root_); }

 private:
  static int Height(const NodePtr& n) { return n ? n->height : 0; }

  const value_type* Lookup(const K& key) const {
    const Compare less;
    for (const Node* n = root_.get(); n;) {
      if (less(key, n->kv.first)) {
        n = n->left.get();
      } else if (less(n->kv.first, key)) {
        n = n->right.get();
      } else {
        return &n->kv;
      }
    }
    return nullptr;
  }

  static NodePtr Make(value_type kv, NodePtr left, NodePtr right) {
    const int h = 1 + std::max(Height(left), Height(right));
    return NodePtr::Adopt(new Node(std::move(kv), std::move(left), std::move(right), h));
  }

  // A node for `kv` over `left` and `right`, whose heights differ by at most two, rotated so that
  // they differ by at most one.
  static NodePtr Balance(value_type kv, NodePtr left, NodePtr right) {
    const int hl = Height(left);
    const int hr = Height(right);
    if (hl > hr + 1) {
      if (Height(left->left) >= Height(left->right)) {
        return Make(left->kv, left->left, Make(std::move(kv), left->right, std::move(right)));
      }
      const Node& lr = *left->right;
      return Make(lr.kv, Make(left->kv, left->left, lr.left),
                  Make(std::move(kv), lr.right, std::move(right)));
    }
    if (hr > hl + 1) {
      if (Height(right->right) >= Height(right->left)) {
        return Make(right->kv, Make(std::move(kv), std::move(left), right->left), right->right);
      }
      const Node& rl = *right->left;
      return Make(rl.kv, Make(std::move(kv), std::move(left), rl.left),
                  Make(right->kv, rl.right, right->right));
    }
    return Make(std::move(kv), std::move(left), std::move(right));
  }

  static NodePtr Insert(const NodePtr& n, value_type kv, bool replace, bool& added) {
    if (!n) {
      added = true;
      return Make(std::move(kv), nullptr, nullptr);
    }
    const Compare less;
    if (less(kv.first, n->kv.first)) {
      return Balance(n->kv, Insert(n->left, std::move(kv), replace, added), n->right);
    }
    if (less(n->kv.first, kv.first)) {
      return Balance(n->kv, n->left, Insert(n->right, std::move(kv), replace, added));
    }
    if (!replace) return n;
    return Make(std::move(kv), n->left, n->right);
  }

  // The node `p` holds, writable, if nothing but `p` holds it. Called only down a path from the
  // root whose every node this map alone holds, so no other copy can reach it (nor start to:
  // it would need a reference to an ancestor), and reading a count of one is then enough.
  static Node* Owned(const NodePtr& p) {
    if (p->refs.load(std::memory_order_acquire) != 1) return nullptr;
    return const_cast<Node*>(p.get());  // every node is made non-const by Make
  }
  // The same, copying the node first when it is shared (for a rotation's nodes).
  static Node* Writable(NodePtr& p) {
    if (Node* n = Owned(p)) return n;
    p = Make(p->kv, p->left, p->right);
    return const_cast<Node*>(p.get());
  }
  static void Fix(Node* n) { n->height = 1 + std::max(Height(n->left), Height(n->right)); }

  // Insert for the tree `slot` holds, changing in place the nodes this map alone holds: path
  // copying is for nodes a copy shares, and a map built without being copied meanwhile (the
  // first sync's 10 000 service ports, 14 levels deep) copied and freed 14 nodes per insert,
  // 33 ms of a 60 ms snapshot. Below the first shared node it copies paths as Insert does.
  // `kv` is moved from only when it is stored.
  static void InsertOwned(NodePtr& slot, value_type& kv, bool replace, bool& added) {
    if (!slot) {
      added = true;
      slot = Make(std::move(kv), nullptr, nullptr);
      return;
    }
    Node* n = Owned(slot);
    if (n == nullptr) {
      slot = Insert(slot, std::move(kv), replace, added);
      return;
    }
    const Compare less;
    if (less(kv.first, n->kv.first)) {
      InsertOwned(n->left, kv, replace, added);
    } else if (less(n->kv.first, kv.first)) {
      InsertOwned(n->right, kv, replace, added);
    } else {
      if (replace) n->kv.second = std::move(kv.second);
      return;
    }
    Rebalance(slot);
  }

  // Balance's rotations for a node this map alone holds, done by relinking: the nodes rotated
  // are the ones just inserted under, made writable (copied only if shared).
  static void Rebalance(NodePtr& slot) {
    Node* n = const_cast<Node*>(slot.get());
    const int hl = Height(n->left);
    const int hr = Height(n->right);
    if (hl > hr + 1) {
      Node* l = Writable(n->left);
      if (Height(l->left) < Height(l->right)) Rotate<&Node::right, &Node::left>(n->left);
      Rotate<&Node::left, &Node::right>(slot);
    } else if (hr > hl + 1) {
      Node* r = Writable(n->right);
      if (Height(r->right) < Height(r->left)) Rotate<&Node::left, &Node::right>(n->right);
      Rotate<&Node::right, &Node::left>(slot);
    } else {
      Fix(n);
    }
  }
  // `slot`'s node and its child on side `kIn`, both writable, swap places: the child comes up
  // and takes the node on its side `kOut` (a right rotation for kIn = left).
  template <NodePtr Node::*kIn, NodePtr Node::*kOut>
  static void Rotate(NodePtr& slot) {
    Node* n = const_cast<Node*>(slot.get());
    NodePtr up = std::move(n->*kIn);
    Node* c = Writable(up);
    n->*kIn = std::move(c->*kOut);
    Fix(n);
    c->*kOut = std::move(slot);
    Fix(c);
    slot = std::move(up);
  }

  // Removes the smallest node of the non-empty tree `n` into `min`.
  static NodePtr EraseMin(const NodePtr& n, std::optional<value_type>& min) {
    if (!n->left) {
      min.emplace(n->kv);
      return n->right;
    }
    return Balance(n->kv, EraseMin(n->left, min), n->right);
  }

  static NodePtr Erase(const NodePtr& n, const K& key, bool& removed) {
    if (!n) return n;
    const Compare less;
    if (less(key, n->kv.first)) {
      NodePtr left = Erase(n->left, key, removed);
      return removed ? Balance(n->kv, std::move(left), n->right) : n;
    }
    if (less(n->kv.first, key)) {
      NodePtr right = Erase(n->right, key, removed);
      return removed ? Balance(n->kv, n->left, std::move(right)) : n;
    }
    removed = true;
    if (!n->left) return n->right;
    if (!n->right) return n->left;
    std::optional<value_type> successor;
    NodePtr right = EraseMin(n->right, successor);
    return Balance(std::move(*successor), n->left, std::move(right));
  }

  NodePtr root_;
  size_type size_ = 0;
};

}  // namespace kpx
