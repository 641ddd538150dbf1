#include "cmd/bind_address.h"

#include "base/ip_address.h"

namespace kpx {

namespace {

bool IsIpv6(const std::string& bind_address) {
  const auto ip = IpAddress::Parse(bind_address);
  return ip && ip->family() == IpFamily::kIPv6;
}

// True for "host:port" with a numeric port and a host that is an IP (bracketed for IPv6), the
// forms Go's net.SplitHostPort accepts for an address kube-proxy already gave a port.
bool HasPort(const std::string& a) {
  const auto colon = a.rfind(':');
  if (colon == std::string::npos || colon + 1 == a.size()) return false;
  if (a.find_first_not_of("0123456789", colon + 1) != std::string::npos) return false;
  const std::string host = a.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return true;
  return host.find(':') == std::string::npos;
}

}  // namespace

std::string AppendPortIfNeeded(const std::string& address, int port) {
  if (HasPort(address)) return address;
  const auto ip = IpAddress::Parse(address);
  if (!ip) return address;
  if (ip->family() == IpFamily::kIPv6) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

std::string DefaultHealthzAddress(const std::string& bind_address) {
  return (IsIpv6(bind_address) ? "[::]:" : "0.0.0.0:") + std::to_string(kHealthzPort);
}

std::string DefaultMetricsAddress(const std::string& bind_address) {
  return (IsIpv6(bind_address) ? "[::1]:" : "127.0.0.1:") + std::to_string(kMetricsPort);
}

}  // namespace kpx
