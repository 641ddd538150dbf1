#include "cmd/proxy_mode.h"

#include "base/enum_names.h"

namespace kpx {
namespace {

using M = ProxyMode;
using namespace std::string_view_literals;
// "" last: an alias of the default, never printed.
constexpr EnumNames kNames(std::array{
    std::pair{M::kIptables, "iptables"sv}, std::pair{M::kIpvs, "ipvs"sv},
    std::pair{M::kUserspace, "userspace"sv}, std::pair{M::kNftables, "nftables"sv},
    std::pair{M::kIptables, ""sv}});

}  // namespace

std::optional<ProxyMode> ParseProxyMode(std::string_view name) { return kNames.Parse(name); }
std::string_view ProxyModeName(ProxyMode mode) { return kNames.Name(mode, "iptables"); }

}  // namespace kpx
