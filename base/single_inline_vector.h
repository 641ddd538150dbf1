#pragma once

#include <cstddef>
#include <iterator>
#include <utility>
#include <variant>
#include <vector>

namespace kpx {

// A vector that holds a single element inline and only two or more in a heap block: for lists
// of which there are 100 000s and nearly all hold exactly one element (a Service's
// EndpointSlices, a slice's ports), where a std::vector cost a malloc chunk of its own each
// (32 bytes and more, on top of its 24 inline). Empty and one element allocate nothing; a list
// that shrinks back to one element moves it inline again. Pointers into it are invalidated by
// every insert and erase, as a std::vector's may be.
template <typename T>
class SingleInlineVector {
 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  SingleInlineVector() = default;

  size_t size() const {
    if (const auto* many = std::get_if<Many>(&items_)) return many->size();
    return std::holds_alternative<T>(items_) ? 1 : 0;
  }
  bool empty() const { return std::holds_alternative<std::monostate>(items_); }
  T* begin() { return const_cast<T*>(std::as_const(*this).begin()); }
  T* end() { return begin() + size(); }
  const T* begin() const {
    if (const auto* one = std::get_if<T>(&items_)) return one;
    if (const auto* many = std::get_if<Many>(&items_)) return many->data();
    return nullptr;
  }
  const T* end() const { return begin() + size(); }
  T& operator[](size_t i) { return begin()[i]; }
  const T& operator[](size_t i) const { return begin()[i]; }

  // Takes `items` as they are: none or one are held inline, more keep the vector's block.
  void Assign(std::vector<T> items) {
    if (items.empty()) {
      items_.template emplace<std::monostate>();
    } else if (items.size() == 1) {
      items_.template emplace<T>(std::move(items.front()));
    } else {
      items_.template emplace<Many>(std::move(items));
    }
  }

  // Inserts before `pos` (begin() to end()) and returns the new element.
  T& Insert(const T* pos, T item) {
    const auto at = static_cast<size_t>(pos - begin());
    if (empty()) return items_.template emplace<T>(std::move(item));
    if (auto* one = std::get_if<T>(&items_)) {
      Many many;
      many.reserve(2);
      many.push_back(std::move(*one));
      many.insert(many.begin() + static_cast<std::ptrdiff_t>(at), std::move(item));
      items_.template emplace<Many>(std::move(many));
    } else {
      Many& many = std::get<Many>(items_);
      many.insert(many.begin() + static_cast<std::ptrdiff_t>(at), std::move(item));
    }
    return begin()[at];
  }

  // Erases every element `pred` holds true of, keeping the others' order; returns how many.
  template <typename Pred>
  size_t EraseIf(Pred pred) {
    size_t erased = 0;
    if (auto* one = std::get_if<T>(&items_)) {
      if (!pred(std::as_const(*one))) return 0;
      items_.template emplace<std::monostate>();
      return 1;
    }
    if (auto* many = std::get_if<Many>(&items_)) {
      erased = std::erase_if(*many, [&](const T& item) { return pred(item); });
      if (many->size() <= 1) Assign(std::move(*many));
    }
    return erased;
  }

 private:
  using Many = std::vector<T>;  // always two or more elements
  std::variant<std::monostate, T, Many> items_;
};

}  // namespace kpx
