// gtest_main for test binaries that bind fixed loopback ports: their tests run in a network
// namespace of their own (PrivateNetnsEnvironment).
#include <gtest/gtest.h>

#include "tests/support/private_netns_environment.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // gtest owns and deletes registered environments.
  ::testing::AddGlobalTestEnvironment(new kpx::testing::PrivateNetnsEnvironment);
  return RUN_ALL_TESTS();
}
