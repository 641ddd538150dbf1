#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace kpx {

// The order libiptc keeps user chains in (bytewise by name, as strcmp), for 100 000s of names:
// sorting compares the names' first 16 bytes as two integers and the whole names only past
// them ("KUBE-SEP-" and 7 characters of a hash tell nearly all of kpx's names apart), rather than
// chasing every name on every comparison.
class ChainNameOrder {
 public:
  // The first 16 bytes as two big-endian integers, zero-padded: ordered as the names.
  static std::array<uint64_t, 2> Prefix(std::string_view name) {
    std::array<uint64_t, 2> out{};
    for (size_t i = 0; i < 16 && i < name.size(); ++i) {
      out[i / 8] |= uint64_t{static_cast<unsigned char>(name[i])} << (56 - 8 * (i % 8));
    }
    return out;
  }

  // An item with its name and the name's prefix, ordered as the names.
  template <typename T>
  struct Keyed {
    std::array<uint64_t, 2> prefix;
    std::string_view name;
    T item;
    static Keyed Of(std::string_view name, T item) { return {Prefix(name), name, std::move(item)}; }
    bool operator<(const Keyed& o) const {
      if (prefix != o.prefix) return prefix < o.prefix;
      return name < o.name;
    }
  };

  // `items` sorted by `name_of(item)` (a string_view), equal names in any order.
  template <typename T, typename NameOf>
  static void Sort(std::vector<T>& items, NameOf&& name_of) {
    std::vector<Keyed<size_t>> keyed;
    keyed.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i)
      keyed.push_back(Keyed<size_t>::Of(name_of(items[i]), i));
    std::sort(keyed.begin(), keyed.end());
    std::vector<T> sorted;
    sorted.reserve(items.size());
    for (const auto& k : keyed) sorted.push_back(std::move(items[k.item]));
    items = std::move(sorted);
  }
};

}  // namespace kpx
