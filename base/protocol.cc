#include "base/protocol.h"

#include <netinet/in.h>

#include "base/enum_names.h"

namespace kpx {
namespace {

using P = Protocol;
using namespace std::string_view_literals;
constexpr EnumNames kApiNames(std::array{std::pair{P::kTCP, "TCP"sv}, std::pair{P::kUDP, "UDP"sv},
                                         std::pair{P::kSCTP, "SCTP"sv}});
constexpr EnumNames kLowerNames(std::array{std::pair{P::kTCP, "tcp"sv}, std::pair{P::kUDP, "udp"sv},
                                           std::pair{P::kSCTP, "sctp"sv}});

}  // namespace

std::string_view ProtocolName(Protocol p) { return kApiNames.Name(p); }
std::string_view ProtocolLowerName(Protocol p) { return kLowerNames.Name(p); }
std::optional<Protocol> ParseProtocol(std::string_view s) { return kApiNames.Parse(s); }

uint8_t IpProtocolNumber(Protocol p) {
  switch (p) {
    case Protocol::kTCP:
      return IPPROTO_TCP;
    case Protocol::kUDP:
      return IPPROTO_UDP;
    case Protocol::kSCTP:
      return IPPROTO_SCTP;
  }
  return 0;
}

std::string_view IpFamilyName(IpFamily f) { return f == IpFamily::kIPv4 ? "IPv4" : "IPv6"; }

}  // namespace kpx
