#include <netinet/in.h>

#include "proxier/ipvs/ipvs_destination.h"
#include "proxier/ipvs/ipvs_service.h"

namespace kpx {
namespace {

std::string HostPort(const IpAddress& ip, uint16_t port) {
  const std::string host =
      ip.family() == IpFamily::kIPv6 ? "[" + ip.ToString() + "]" : ip.ToString();
  return host + ":" + std::to_string(port);
}

}  // namespace

std::string IpvsServiceKey::ToString() const {
  return std::string(ProtocolName(protocol)) + "/" + HostPort(address, port);
}

std::string IpvsDestinationKey::ToString() const { return HostPort(address, port); }

bool ProtocolFromNumber(uint16_t number, Protocol* out) {
  switch (number) {
    case IPPROTO_TCP:
      *out = Protocol::kTCP;
      return true;
    case IPPROTO_UDP:
      *out = Protocol::kUDP;
      return true;
    case IPPROTO_SCTP:
      *out = Protocol::kSCTP;
      return true;
    default:
      return false;
  }
}

}  // namespace kpx
