#include "proxier/netfilter/getifaddrs_local_address_lister.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kpx {

Result<std::vector<IpAddress>> GetifaddrsLocalAddressLister::List() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return Status::Error(std::string("getifaddrs: ") + std::strerror(errno));
  }
  std::vector<IpAddress> out;
  char text[INET6_ADDRSTRLEN] = {};
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    const void* raw = nullptr;
    if (a->ifa_addr->sa_family == AF_INET) {
      raw = &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr;
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      raw = &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
    } else {
      continue;
    }
    if (inet_ntop(a->ifa_addr->sa_family, raw, text, sizeof(text)) == nullptr) continue;
    if (auto ip = IpAddress::Parse(text)) out.push_back(*ip);
  }
  freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace kpx
