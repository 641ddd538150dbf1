#pragma once

#include <string_view>

namespace kpx {

// kube-proxy's well-known top-level chains. Shared by every mode that writes iptables rules (the
// ipvs mode's helpers reuse KUBE-SERVICES, KUBE-POSTROUTING and KUBE-MARK-MASQ as kube-proxy's
// ipvs proxier does), so one mode can clean up after another.
inline constexpr std::string_view kServicesChain = "KUBE-SERVICES";
inline constexpr std::string_view kExternalServicesChain = "KUBE-EXTERNAL-SERVICES";
inline constexpr std::string_view kNodePortsChain = "KUBE-NODEPORTS";
inline constexpr std::string_view kPostroutingChain = "KUBE-POSTROUTING";
inline constexpr std::string_view kMarkMasqChain = "KUBE-MARK-MASQ";
inline constexpr std::string_view kForwardChain = "KUBE-FORWARD";
inline constexpr std::string_view kProxyFirewallChain = "KUBE-PROXY-FIREWALL";
inline constexpr std::string_view kFirewallChain = "KUBE-FIREWALL";  // localnet guard (v4)

}  // namespace kpx
