#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <unordered_set>

namespace kpx {

// Hashing and equality for a set of objects that carry their own key: `KeyOf{}(element)` gives
// the key (a string_view, or a string for elements that build theirs), and lookups take a
// string_view. A map would hold a second copy of every key beside the object that already names
// it (~100 bytes per object at the sources' scale).
template <typename T, typename KeyOf>
struct KeyedSetOps {
  using is_transparent = void;
  // noexcept: the set then stores no hash per node.
  size_t operator()(std::string_view key) const noexcept {
    return std::hash<std::string_view>()(key);
  }
  size_t operator()(const T& element) const noexcept { return (*this)(KeyOf{}(element)); }
  bool operator()(const T& a, const T& b) const { return KeyOf{}(a) == KeyOf{}(b); }
  bool operator()(std::string_view a, const T& b) const { return a == KeyOf{}(b); }
  bool operator()(const T& a, std::string_view b) const { return KeyOf{}(a) == b; }
};

template <typename T, typename KeyOf>
using KeyedSet = std::unordered_set<T, KeyedSetOps<T, KeyOf>, KeyedSetOps<T, KeyOf>>;

// Two elements per bucket on average: the bucket array is then ~6 bytes per element, not ~12.
inline constexpr float kKeyedSetLoadFactor = 2;

}  // namespace kpx
