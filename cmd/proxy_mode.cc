#include "cmd/proxy_mode.h"

namespace kpx {

std::optional<ProxyMode> ParseProxyMode(std::string_view name) {
  if (name.empty() || name == "iptables") return ProxyMode::kIptables;
  if (name == "ipvs") return ProxyMode::kIpvs;
  if (name == "userspace") return ProxyMode::kUserspace;
  return std::nullopt;
}

std::string_view ProxyModeName(ProxyMode mode) {
  switch (mode) {
    case ProxyMode::kIptables:
      return "iptables";
    case ProxyMode::kIpvs:
      return "ipvs";
    case ProxyMode::kUserspace:
      return "userspace";
  }
  return "iptables";
}

}  // namespace kpx
