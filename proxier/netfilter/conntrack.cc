#include "proxier/netfilter/conntrack.h"

namespace kpx {

std::string ConntrackFilter::ToString() const {
  std::string s =
      std::string(IpFamilyName(family)) + " " + std::string(ProtocolLowerName(protocol));
  if (orig_dst) s += " orig-dst=" + orig_dst->ToString();
  if (orig_dst_port) s += " orig-port-dst=" + std::to_string(*orig_dst_port);
  if (dst_nat) s += " dst-nat=" + dst_nat->ToString();
  return s;
}

}  // namespace kpx
