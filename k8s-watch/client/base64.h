#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kpx {

// Standard base64 (RFC 4648 with padding), as kubeconfig *-data fields carry it. Whitespace is
// ignored because hand-edited kubeconfigs often wrap long values.
class Base64 {
 public:
  static std::optional<std::string> Decode(std::string_view text);
  static std::string Encode(std::string_view bytes);
};

}  // namespace kpx
