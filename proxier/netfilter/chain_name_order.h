#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

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
};

}  // namespace kpx
