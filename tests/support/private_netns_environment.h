#pragma once

#include <gtest/gtest.h>

namespace kpx::testing {

// Runs a test binary's tests in a network namespace of their own (EnterPrivateNetns), entered
// before the first test and only when tests run (not for --gtest_list_tests). Without the
// privilege the tests run in the namespace they started in (the host's) as they always did, after a
// note saying that runs at the same time may collide; any other failure is fatal, so that no test
// runs half in one namespace and half in another. Test binaries get it by linking
// kpx_test_private_netns_main (kpx_add_test ... PRIVATE_NETNS) instead of gtest_main.
class PrivateNetnsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
};

}  // namespace kpx::testing
