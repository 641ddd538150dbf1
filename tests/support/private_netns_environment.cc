#include "tests/support/private_netns_environment.h"

#include <cstdio>
#include <string>

#include "tests/support/private_netns.h"

namespace kpx::testing {

void PrivateNetnsEnvironment::SetUp() {
  if (const std::string why = PrivateNetnsUnavailable(); !why.empty()) {
    std::fprintf(stderr,
                 "note: running in the network namespace the binary started in (%s): fixed "
                 "loopback ports may collide with another run of these tests at the same time\n",
                 why.c_str());
    return;
  }
  const Status s = EnterPrivateNetns();
  ASSERT_TRUE(s.ok()) << "cannot enter a private network namespace: " << s.message();
}

}  // namespace kpx::testing
