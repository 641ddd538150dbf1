// XtTableSocket against the kernel, in a private network namespace: a write by someone else
// between our read and our replace is noticed (EAGAIN) and the edit is planned again on the new
// table, so the other writer's rule survives; a declined plan writes nothing.
#include "proxier/netfilter/xt_table_socket.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proxier/netfilter/libiptc_iptables_runner.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "tests/support/in_netns.h"
#include "tests/support/netns.h"

namespace kpx {
namespace {

class XtTableSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = testing::TestNetns::Unavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    if (access("/usr/sbin/iptables-legacy", X_OK) != 0) GTEST_SKIP() << "iptables-legacy missing";
    netns_ = std::make_unique<testing::TestNetns>("kpx-xts");
    ASSERT_TRUE(netns_->Add("node").ok());
  }
  // Runs an iptables-legacy command in the namespace (the calling thread must be in it).
  static void Iptables(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"iptables-legacy"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = SubprocessExecutor().Run(argv, "");
    ASSERT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->err : r.status().message());
  }
  static std::string Save() {
    auto r = SubprocessExecutor().Run({"iptables-legacy-save", "-t", "filter"}, "");
    return r.ok() ? r->out : "";
  }
  std::unique_ptr<testing::TestNetns> netns_;
};

TEST_F(XtTableSocketTest, AnotherWriterInBetweenMakesItReadAndPlanAgain) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  auto rule = EncodeIptEntry(IpFamily::kIPv4, {"-s", "10.0.0.1", "-j", "ACCEPT"});
  ASSERT_TRUE(rule.ok());
  int plans = 0;
  size_t foreign_rules_seen = 0;
  auto edited = XtTableSocket::Edit(
      IpFamily::kIPv4, "filter",
      [&](const XtTableBlob& table) -> Result<std::optional<std::vector<XtChainEdit>>> {
        ++plans;
        foreign_rules_seen = table.RuleCount("FOREIGN");
        // The first time, someone else adds a rule after our read: our replace must fail.
        if (plans == 1) Iptables({"-A", "FOREIGN", "-s", "10.9.9.9", "-j", "DROP"});
        XtChainEdit e;
        e.name = "KUBE-X";
        e.after = {*rule};
        return std::optional(std::vector<XtChainEdit>{e});
      });
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  EXPECT_TRUE(*edited);
  EXPECT_EQ(plans, 2);
  EXPECT_EQ(foreign_rules_seen, 1u);  // the second plan saw the other writer's rule
  const std::string saved = Save();
  EXPECT_NE(saved.find("-A FOREIGN -s 10.9.9.9/32 -j DROP"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A KUBE-X -s 10.0.0.1/32 -j ACCEPT"), std::string::npos) << saved;
}

TEST_F(XtTableSocketTest, ADeclinedPlanWritesNothingAndReadSeesTheChains) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  const std::string before = Save();
  auto edited = XtTableSocket::Edit(
      IpFamily::kIPv4, "filter",
      [](const XtTableBlob&) -> Result<std::optional<std::vector<XtChainEdit>>> {
        return std::optional<std::vector<XtChainEdit>>();
      });
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  EXPECT_FALSE(*edited);
  EXPECT_EQ(Save(), before);
  std::string chains;
  Status st = XtTableSocket::Read(IpFamily::kIPv4, "filter", [&](const XtTableBlob& t) {
    for (const auto& c : t.Chains()) chains += std::string(c.name) + ",";
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(chains, "INPUT,FORWARD,OUTPUT,FOREIGN,");
  // A table the kernel does not have is an error naming it.
  st = XtTableSocket::Read(IpFamily::kIPv4, "nosuchtable", [](const XtTableBlob&) {});
  EXPECT_NE(st.message().find("x_tables nosuchtable: get info"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace kpx
