// XtTableSocket against the kernel, in a private network namespace: a write by someone else
// between our read and our replace is noticed (EAGAIN) and the edit is planned again on the new
// table, so the other writer's rule survives; a declined plan writes nothing; the table kpx wrote
// is kept and edited again without reading it back, until the table's info, the lock's watch or
// the copy's age says it may have been changed by someone else.
#include "proxier/netfilter/xt_table_socket.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "proxier/netfilter/ipt_entry_encoder.h"
#include "proxier/netfilter/libiptc_iptables_runner.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "tests/support/in_netns.h"
#include "tests/support/legacy_iptables_test.h"

namespace kpx {
namespace {

class XtTableSocketTest : public testing::LegacyIptablesTest {
 protected:
  XtTableSocketTest() : LegacyIptablesTest("kpx-xts") {}
  static std::string Save() { return SaveFilter(); }
};

TEST_F(XtTableSocketTest, AnotherWriterInBetweenMakesItReadAndPlanAgain) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  auto rule = EncodeIptEntry(IpFamily::kIPv4, {"-s", "10.0.0.1", "-j", "ACCEPT"});
  ASSERT_TRUE(rule.ok());
  int plans = 0;
  size_t foreign_rules_seen = 0;
  XtTableSocket socket;
  auto edited =
      socket.Edit(IpFamily::kIPv4, "filter",
                  [&](const XtTableBlob& table) -> Result<std::optional<std::vector<XtChainEdit>>> {
                    ++plans;
                    foreign_rules_seen = table.RuleCount("FOREIGN");
                    // The first time, someone else adds a rule after our read: our replace must
                    // fail.
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
  XtTableSocket socket;
  auto edited =
      socket.Edit(IpFamily::kIPv4, "filter",
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

// Sets KUBE-X to one rule with `source`, noting how many rules FOREIGN had in the plan's table.
Result<bool> SetKubeX(XtTableSocket& socket, const std::string& source,
                      size_t* foreign_rules = nullptr) {
  auto rule = EncodeIptEntry(IpFamily::kIPv4, {"-s", source, "-j", "ACCEPT"});
  if (!rule.ok()) return rule.status();
  return socket.Edit(
      IpFamily::kIPv4, "filter",
      [&](const XtTableBlob& table) -> Result<std::optional<std::vector<XtChainEdit>>> {
        if (foreign_rules != nullptr) *foreign_rules = table.RuleCount("FOREIGN");
        XtChainEdit e;
        e.name = "KUBE-X";
        e.after = {*rule};
        return std::optional(std::vector<XtChainEdit>{e});
      });
}

// Whether FOREIGN's rule, added with `-c 5 500`, still shows that count.
bool ForeignRuleCounted() {
  auto r = SubprocessExecutor().Run({"iptables-legacy-save", "-c", "-t", "filter"}, "");
  return r.ok() && r->out.find("[5:500] -A FOREIGN -s 10.9.9.9/32 -j DROP") != std::string::npos;
}

// The replace hands back the old counters; with defer_counters the edit leaves putting them on
// the kept entries to its caller (the runner does it on a thread after the sync returned): until
// then the kept rule reads zero, after the call it has its count back.
TEST_F(XtTableSocketTest, DeferredCountersWaitForTheCallerAndThenComeBack) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  Iptables({"-A", "FOREIGN", "-s", "10.9.9.9", "-j", "DROP", "-c", "5", "500"});
  ASSERT_TRUE(ForeignRuleCounted());
  XtTableSocket::Options deferred;
  deferred.defer_counters = true;
  XtTableSocket socket(deferred);
  auto edited = SetKubeX(socket, "10.0.0.1");
  ASSERT_TRUE(edited.ok() && *edited) << (edited.ok() ? "declined" : edited.status().message());
  EXPECT_FALSE(ForeignRuleCounted()) << "the replace alone restarts every counter";
  std::vector<XtCountersHandOver> pending = socket.TakePendingCounters();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_TRUE(socket.TakePendingCounters().empty());
  EXPECT_EQ(pending[0].table(), "filter");
  auto made = pending[0].Run();
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_TRUE(*made);
  EXPECT_TRUE(ForeignRuleCounted());

  // Without the option the edit makes the call itself, and leaves nothing pending.
  XtTableSocket inline_socket;
  edited = SetKubeX(inline_socket, "10.0.0.2");
  ASSERT_TRUE(edited.ok() && *edited);
  EXPECT_TRUE(ForeignRuleCounted());
  EXPECT_TRUE(inline_socket.TakePendingCounters().empty());
}

// The runner makes the hand-over itself: after the restore returned on its own thread (the
// default), or before the restore returns without defer_counters. Either way the kept rule gets
// its count back; only the first is counted as deferred.
TEST_F(XtTableSocketTest, TheRunnerHandsCountersOverLaterOrAtOnce) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  Iptables({"-A", "FOREIGN", "-s", "10.9.9.9", "-j", "DROP", "-c", "5", "500"});
  for (const bool defer : {false, true}) {
    SCOPED_TRACE(defer ? "deferred" : "at once");
    LibiptcIptablesRunner::Options o;
    o.lock_path = "";  // nothing else writes this namespace
    o.defer_counters = defer;
    LibiptcIptablesRunner runner(o);
    Status st = runner.Restore(IpFamily::kIPv4,
                               std::string("*filter\n:KUBE-X - [0:0]\n-A KUBE-X -s 10.0.0.") +
                                   (defer ? "2" : "1") + "/32 -j ACCEPT\nCOMMIT\n");
    ASSERT_TRUE(st.ok()) << st.message();
    if (!defer) {
      EXPECT_TRUE(ForeignRuleCounted()) << "made before the restore returned";
    }
    runner.FinishCounters();
    EXPECT_TRUE(ForeignRuleCounted());
    EXPECT_EQ(runner.stats().deferred_restores, defer ? 1u : 0u);
  }
}

TEST_F(XtTableSocketTest, EditsTheTableItKeptWithoutReadingItBack) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  Iptables({"-A", "FOREIGN", "-s", "10.9.9.9", "-j", "DROP"});
  XtTableSocket socket;
  for (const char* source : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
    auto edited = SetKubeX(socket, source);
    ASSERT_TRUE(edited.ok() && *edited) << (edited.ok() ? "declined" : edited.status().message());
  }
  EXPECT_EQ(socket.stats().reads, 1u);
  EXPECT_EQ(socket.stats().kept_uses, 2u);
  EXPECT_EQ(socket.stats().kept_dropped, 0u);
  // What the kernel holds is what a read-back edit would have written: the foreign rule kept,
  // KUBE-X holding only the last rule.
  const std::string saved = Save();
  EXPECT_NE(saved.find("-A FOREIGN -s 10.9.9.9/32 -j DROP"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A KUBE-X -s 10.0.0.3/32 -j ACCEPT"), std::string::npos) << saved;
  EXPECT_EQ(saved.find("10.0.0.2"), std::string::npos) << saved;
}

TEST_F(XtTableSocketTest, ARuleAddedBySomeoneElseShowsInTheInfoAndSurvives) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  XtTableSocket socket;
  ASSERT_TRUE(SetKubeX(socket, "10.0.0.1").ok());
  Iptables({"-A", "FOREIGN", "-s", "10.9.9.9", "-j", "DROP"});
  size_t foreign = 0;
  auto edited = SetKubeX(socket, "10.0.0.2", &foreign);
  ASSERT_TRUE(edited.ok()) << edited.status().message();
  EXPECT_EQ(foreign, 1u);  // planned on the table as it is, not on the kept copy
  EXPECT_EQ(socket.stats().reads, 2u);
  EXPECT_EQ(socket.stats().kept_dropped, 1u);
  EXPECT_NE(Save().find("-A FOREIGN -s 10.9.9.9/32 -j DROP"), std::string::npos) << Save();
}

// `iptables -R` with a rule of the same size leaves the table's size, entry count and hook
// offsets as they were: only the lock's watch (or the copy's age) can tell.
TEST_F(XtTableSocketTest, ASameSizeRewriteIsCaughtByTheWatchOrTheCopysAge) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  Iptables({"-A", "FOREIGN", "-s", "10.9.9.9", "-j", "DROP"});
  for (const bool by_watch : {true, false}) {
    SCOPED_TRACE(by_watch ? "watch" : "age");
    bool watch_fired = false;
    XtTableSocket::Options options;
    if (by_watch) {
      options.others_may_have_written = [&] { return std::exchange(watch_fired, false); };
    } else {
      options.trust_kept_for = std::chrono::steady_clock::duration::zero();
    }
    XtTableSocket socket(options);
    ASSERT_TRUE(SetKubeX(socket, "10.0.0.1").ok());
    const std::string replaced = by_watch ? "10.8.8.8" : "10.7.7.7";
    Iptables({"-R", "FOREIGN", "1", "-s", replaced, "-j", "DROP"});
    watch_fired = true;
    ASSERT_TRUE(SetKubeX(socket, "10.0.0.2").ok());
    EXPECT_EQ(socket.stats().reads, 2u);
    EXPECT_EQ(socket.stats().kept_uses, 0u);
    const std::string saved = Save();
    EXPECT_NE(saved.find("-A FOREIGN -s " + replaced + "/32 -j DROP"), std::string::npos) << saved;
    EXPECT_NE(saved.find("-A KUBE-X -s 10.0.0.2/32 -j ACCEPT"), std::string::npos) << saved;
  }
}

TEST_F(XtTableSocketTest, KeepingCanBeTurnedOff) {
  testing::InNetns in(netns_->Name("node"));
  XtTableSocket::Options options;
  options.keep_tables = false;
  XtTableSocket socket(options);
  ASSERT_TRUE(SetKubeX(socket, "10.0.0.1").ok());
  ASSERT_TRUE(SetKubeX(socket, "10.0.0.2").ok());
  EXPECT_EQ(socket.stats().reads, 2u);
  EXPECT_EQ(socket.stats().kept_uses, 0u);
}

}  // namespace
}  // namespace kpx
