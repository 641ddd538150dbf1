#pragma once

#include <optional>
#include <string_view>

namespace kpx {

// The proxy mode, parsed once from --proxy-mode/--mode or the file's `mode` so that the rest of
// cmd/ switches on a type instead of comparing strings.
enum class ProxyMode { kIptables, kIpvs, kUserspace };

// kube-proxy's names; "" is the platform default (iptables on Linux), as in kube-proxy.
std::optional<ProxyMode> ParseProxyMode(std::string_view name);
std::string_view ProxyModeName(ProxyMode mode);

}  // namespace kpx
