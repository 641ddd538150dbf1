#include "base/protocol.h"

namespace kpx {

std::string_view ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kTCP:
      return "TCP";
    case Protocol::kUDP:
      return "UDP";
    case Protocol::kSCTP:
      return "SCTP";
  }
  return "?";
}

std::string_view ProtocolLowerName(Protocol p) {
  switch (p) {
    case Protocol::kTCP:
      return "tcp";
    case Protocol::kUDP:
      return "udp";
    case Protocol::kSCTP:
      return "sctp";
  }
  return "?";
}

std::optional<Protocol> ParseProtocol(std::string_view s) {
  if (s == "TCP") return Protocol::kTCP;
  if (s == "UDP") return Protocol::kUDP;
  if (s == "SCTP") return Protocol::kSCTP;
  return std::nullopt;
}

std::string_view IpFamilyName(IpFamily f) { return f == IpFamily::kIPv4 ? "IPv4" : "IPv6"; }

}  // namespace kpx
