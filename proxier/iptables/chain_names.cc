#include "proxier/iptables/chain_names.h"

#include <array>
#include <cstdio>

#include "k8s-watch/objects/content_digest.h"
#include "proxier/iptables/iptables_options.h"

namespace kpx {

namespace {

// RFC 4648 base32 with the standard alphabet; only the prefix is used, so padding never shows.
std::string Base32(const unsigned char* data, size_t len) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  out.reserve((len * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::string PortProtoKey(const ServicePortName& name) {
  return name.ToString() + std::string(ProtocolLowerName(name.protocol));
}

}  // namespace

std::string HashedSuffix(std::string_view text) {
  const ContentDigest::Digest digest = ContentDigest::Of(text);
  return Base32(digest.data(), digest.size()).substr(0, 16);
}

std::string ServiceChain(const ServicePortName& name) {
  return std::string(kSvcPrefix) + HashedSuffix(PortProtoKey(name));
}

std::string ServiceLocalChain(const ServicePortName& name) {
  return std::string(kSvlPrefix) + HashedSuffix(PortProtoKey(name));
}

std::string ExternalChain(const ServicePortName& name) {
  return std::string(kExtPrefix) + HashedSuffix(PortProtoKey(name));
}

std::string FirewallChain(const ServicePortName& name) {
  return std::string(kFwPrefix) + HashedSuffix(PortProtoKey(name));
}

std::string EndpointChain(const ServicePortName& name, const EndpointInfo& endpoint) {
  return std::string(kSepPrefix) + HashedSuffix(PortProtoKey(name) + endpoint.ToString());
}

bool IsServiceChainName(std::string_view chain) {
  for (std::string_view p :
       {kSvcPrefix, kSvlPrefix, kExtPrefix, kFwPrefix, kSepPrefix, kDstPrefix}) {
    if (chain.starts_with(p)) return true;
  }
  return false;
}

bool IsKpxChainName(std::string_view table, std::string_view chain) {
  if (table == "nat") {
    return IsServiceChainName(chain) || chain == kServicesChain || chain == kNodePortsChain ||
           chain == kPostroutingChain || chain == kMarkMasqChain;
  }
  if (table == "filter") {
    return chain == kServicesChain || chain == kExternalServicesChain || chain == kNodePortsChain ||
           chain == kForwardChain || chain == kProxyFirewallChain || chain == kFirewallChain;
  }
  return false;
}

std::string MasqueradeMark(int masquerade_bit) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", 1u << masquerade_bit);
  return buf;
}

}  // namespace kpx
