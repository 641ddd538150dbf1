#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace kpx {

// An enum's external names (API, flags, logs) written once, so that parsing and printing cannot
// drift apart. Entries list every enumerator; the first entry for a value is its printed name,
// further entries for the same value are accepted aliases.
template <typename E, std::size_t N>
class EnumNames {
 public:
  constexpr explicit EnumNames(std::array<std::pair<E, std::string_view>, N> entries)
      : entries_(entries) {}

  constexpr std::string_view Name(E value, std::string_view unknown = "?") const {
    for (const auto& [e, name] : entries_) {
      if (e == value) return name;
    }
    return unknown;
  }

  constexpr std::optional<E> Parse(std::string_view name) const {
    for (const auto& [e, n] : entries_) {
      if (n == name) return e;
    }
    return std::nullopt;
  }

 private:
  std::array<std::pair<E, std::string_view>, N> entries_;
};

template <typename E, std::size_t N>
EnumNames(std::array<std::pair<E, std::string_view>, N>) -> EnumNames<E, N>;

}  // namespace kpx
