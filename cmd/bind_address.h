#pragma once

#include <string>

namespace kpx {

// kube-proxy's default ports: /healthz on 10256, /metrics on 10249.
inline constexpr int kHealthzPort = 10256;
inline constexpr int kMetricsPort = 10249;

// kube-proxy's proxyutil.AppendPortIfNeeded: "IP:port" and "[IPv6]:port" stay as they are; a
// bare IP gets `port` ("0.0.0.0" -> "0.0.0.0:10249", "::" -> "[::]:10249"); anything else is
// returned unchanged for validation to reject with the field's name.
std::string AppendPortIfNeeded(const std::string& address, int port);

// The healthz and metrics addresses kube-proxy defaults to for a bindAddress: 0.0.0.0:10256 and
// 127.0.0.1:10249 for IPv4, [::]:10256 and [::1]:10249 for an IPv6 bindAddress.
std::string DefaultHealthzAddress(const std::string& bind_address);
std::string DefaultMetricsAddress(const std::string& bind_address);

}  // namespace kpx
