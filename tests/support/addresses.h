#pragma once

#include <string>

#include "base/cidr.h"
#include "base/ip_address.h"

namespace kpx::testing {

// Addresses of a test's IP plan. A typo throws std::invalid_argument naming the text, so the
// test fails with it instead of running on a default address or aborting the binary.
IpAddress Ip(const std::string& text);
Cidr Net(const std::string& text);

}  // namespace kpx::testing
