#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <cstdint>
#include <initializer_list>

namespace kpx {

// An endpoint's hints.forZones, interned: most endpoints carry none or share the few zone lists
// of their cluster, so a 4-byte number per endpoint (an index into a process-wide table of the
// distinct lists) replaces a vector of strings; it lets EndpointInfo fit 24 bytes. Like
// InternedString, the table keeps every distinct list for the life of the process: lists are
// combinations of the cluster's zones, bounded by zone churn, not endpoint churn.
class ZoneHints {
 public:
  ZoneHints() = default;
  // Implicit, like the vector it replaced. Zone names are label values, which cannot hold ','.
  ZoneHints(const std::vector<std::string>& zones);  // NOLINT(google-explicit-constructor)
  ZoneHints(std::initializer_list<std::string> zones)
      : ZoneHints(std::vector<std::string>(zones)) {}

  bool empty() const { return id_ == 0; }
  bool Contains(std::string_view zone) const;
  bool operator==(const ZoneHints&) const = default;

 private:
  uint32_t id_ = 0;  // 0: no hints; else the table's entry for "z1,z2", in the slice's order
};

}  // namespace kpx
