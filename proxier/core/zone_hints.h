#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/interned_string.h"

namespace kpx {

// An endpoint's hints.forZones, interned: most endpoints carry none or share the few zone lists
// of their cluster, so the interned list's 4-byte number (InternedString::index) per endpoint
// replaces a vector of strings; it lets EndpointInfo fit 24 bytes. Lists are combinations of the
// cluster's zones, bounded by zone churn, not endpoint churn.
class ZoneHints {
 public:
  ZoneHints() = default;
  // Implicit, like the vector it replaced. Zone names are label values, which cannot hold ','.
  ZoneHints(const std::vector<std::string>& zones);  // NOLINT(google-explicit-constructor)
  ZoneHints(std::initializer_list<std::string> zones)
      : ZoneHints(std::vector<std::string>(zones)) {}

  bool empty() const { return index_ == 0; }
  bool Contains(std::string_view zone) const;
  bool operator==(const ZoneHints&) const = default;

  // The interned list's number, so compact stores (EndpointList's packed entries) can keep it.
  uint32_t index() const { return index_; }
  static ZoneHints FromIndex(uint32_t index) {
    ZoneHints h;
    h.index_ = index;
    return h;
  }

 private:
  uint32_t index_ = 0;  // of the interned "z1,z2", in the slice's order; 0: none
};

}  // namespace kpx
