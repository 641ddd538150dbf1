#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/netns.h"

namespace kpx::testing {

// A test with a network namespace of its own ("node") whose x_tables it writes and reads with
// iptables-legacy, as another tool on the node would. Skips where namespaces or iptables-legacy
// are missing.
class LegacyIptablesTest : public ::testing::Test {
 protected:
  explicit LegacyIptablesTest(std::string netns_prefix) : prefix_(std::move(netns_prefix)) {}
  void SetUp() override;

  // `iptables-legacy -w 5 args...`, which must succeed; the calling thread must be in the
  // namespace. With lock_file_ set, iptables locks that file instead of /run/xtables.lock.
  void Iptables(const std::vector<std::string>& args);
  // iptables-legacy-save of the filter table without its comment lines ("" if it fails).
  static std::string SaveFilter();

  std::string lock_file_;
  std::unique_ptr<TestNetns> netns_;

 private:
  std::string prefix_;
};

}  // namespace kpx::testing
