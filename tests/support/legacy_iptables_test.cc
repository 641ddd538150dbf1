#include "tests/support/legacy_iptables_test.h"

#include <unistd.h>

#include "proxier/netfilter/subprocess_executor.h"

namespace kpx::testing {

void LegacyIptablesTest::SetUp() {
  if (const std::string why = TestNetns::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  if (access("/usr/sbin/iptables-legacy", X_OK) != 0) GTEST_SKIP() << "iptables-legacy missing";
  netns_ = std::make_unique<TestNetns>(prefix_);
  ASSERT_TRUE(netns_->Add("node").ok());
}

void LegacyIptablesTest::Iptables(const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (!lock_file_.empty()) argv = {"env", "XTABLES_LOCKFILE=" + lock_file_};
  argv.insert(argv.end(), {"iptables-legacy", "-w", "5"});
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = SubprocessExecutor().Run(argv, "");
  ASSERT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->err : r.status().message());
}

std::string LegacyIptablesTest::SaveFilter() {
  auto r = SubprocessExecutor().Run({"iptables-legacy-save", "-t", "filter"}, "");
  if (!r.ok()) return "";
  // Without the "# Generated ... on <time>" lines: two saves a second apart of the same table
  // compared unequal.
  std::string out;
  size_t pos = 0;
  while (pos < r->out.size()) {
    size_t end = r->out.find('\n', pos);
    end = end == std::string::npos ? r->out.size() : end + 1;
    if (r->out[pos] != '#') out.append(r->out, pos, end - pos);
    pos = end;
  }
  return out;
}

}  // namespace kpx::testing
