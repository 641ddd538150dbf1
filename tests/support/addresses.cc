#include "tests/support/addresses.h"

#include <stdexcept>

namespace kpx::testing {

IpAddress Ip(const std::string& text) {
  auto ip = IpAddress::Parse(text);
  if (!ip) throw std::invalid_argument("bad ip " + text);
  return *ip;
}

Cidr Net(const std::string& text) {
  auto c = Cidr::Parse(text);
  if (!c) throw std::invalid_argument("bad cidr " + text);
  return *c;
}

}  // namespace kpx::testing
