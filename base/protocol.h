#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kpx {

// The transport protocols a Service port may name. kpx refuses anything else at decode time.
enum class Protocol : uint8_t { kTCP, kUDP, kSCTP };

// "TCP", "UDP" or "SCTP", as the API spells them.
std::string_view ProtocolName(Protocol p);
// Lower-case form used by iptables ("-p tcp") and in chain-name hashes.
std::string_view ProtocolLowerName(Protocol p);
std::optional<Protocol> ParseProtocol(std::string_view s);
// The IP protocol number (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP), as IPVS and conntrack key by it.
uint8_t IpProtocolNumber(Protocol p);

// One byte: a family sits in every IpAddress, a million of them at 100 000 x 10 endpoints.
enum class IpFamily : uint8_t { kIPv4 = 0, kIPv6 = 1 };
inline constexpr IpFamily kIpFamilies[] = {IpFamily::kIPv4, IpFamily::kIPv6};

std::string_view IpFamilyName(IpFamily f);

}  // namespace kpx
