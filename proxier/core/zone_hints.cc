#include "proxier/core/zone_hints.h"

namespace kpx {

ZoneHints::ZoneHints(const std::vector<std::string>& zones) {
  std::string joined;
  for (const std::string& z : zones) {
    if (!joined.empty()) joined += ',';
    joined += z;
  }
  index_ = InternedString(joined).index();
}

bool ZoneHints::Contains(std::string_view zone) const {
  std::string_view rest = InternedString::AtIndex(index_).str();
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    if (rest.substr(0, comma) == zone) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace kpx
