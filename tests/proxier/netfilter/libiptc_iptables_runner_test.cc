// The libiptc runner writes rules the way iptables itself writes them: the same rules restored
// by iptables-legacy-restore and by the libiptc runner read back identically with
// iptables-legacy-save (no "[unsupported revision]", no widened port ranges). Runs in a network
// namespace of its own (a forked child unshares one), so nothing touches the host's tables.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_statistic.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "proxier/netfilter/libiptc_iptables_runner.h"
#include "proxier/netfilter/netlink_nfacct.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "tests/support/in_netns.h"
#include "tests/support/legacy_iptables_test.h"
#include "tests/support/netns.h"
#include "tests/support/temp_dir.h"
#include "tests/support/traffic.h"

namespace kpx {
namespace {

// The rules kube-proxy's scenarios need from the matches the runner encodes itself.
constexpr char kRules[] =
    "-A CHAIN -p sctp -m sctp --dport 3868 -j ACCEPT\n"
    "-A CHAIN -m comment --comment \"ns/svc:sctp cluster IP\" -m sctp -p sctp -d 172.30.0.41 "
    "--dport 3868 -j ACCEPT\n"
    "-A CHAIN -p tcp -m tcp --dport 80 -j ACCEPT\n"
    "-A CHAIN -p udp -m udp ! --dport 53 -j ACCEPT\n"
    "-A CHAIN -m conntrack --ctstate INVALID -m nfacct --nfacct-name kpx_test_pkts -j DROP\n"
    "-A CHAIN -m recent --name KUBE-SEP-ABC --set -j ACCEPT\n"
    "-A CHAIN -m recent --name KUBE-SEP-ABC --rcheck --seconds 600 --reap -j ACCEPT\n";

std::string Table(const std::string& chain) {
  return "*filter\n:" + chain + " - [0:0]\n" +
         std::regex_replace(kRules, std::regex("CHAIN"), chain) + "COMMIT\n";
}

// In a fresh network namespace: restore with iptables and with libiptc, save; the rules of
// each chain, with the chain name taken out, go to `out` ("iptables:" and "libiptc:" blocks).
int RunInOwnNetns(const std::string& out) {
  if (unshare(CLONE_NEWNET) != 0) return 10;
  SubprocessExecutor exec;
  // nfacct rules need their counter to exist.
  if (!NetlinkNfacct().Ensure("kpx_test_pkts").ok()) return 14;
  auto restored = exec.Run({"iptables-legacy-restore", "--noflush"}, Table("BYIPTABLES"));
  if (!restored.ok() || restored->exit_code != 0) return 11;
  LibiptcIptablesRunner runner;
  if (Status st = runner.Restore(IpFamily::kIPv4, Table("BYLIBIPTC")); !st.ok()) {
    std::ofstream(out) << st.message();
    return 12;
  }
  auto saved = exec.Run({"iptables-legacy-save", "-t", "filter"}, "");
  if (!saved.ok() || saved->exit_code != 0) return 13;
  std::istringstream in(saved->out);
  std::string by_iptables;
  std::string by_libiptc;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-A BYIPTABLES ", 0) == 0) by_iptables += line.substr(14) + "\n";
    if (line.rfind("-A BYLIBIPTC ", 0) == 0) by_libiptc += line.substr(13) + "\n";
  }
  std::ofstream(out) << "iptables:\n" << by_iptables << "libiptc:\n" << by_libiptc;
  return 0;
}

TEST(LibiptcIptablesRunnerTest, WritesWhatIptablesWrites) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespace, iptables)";
  if (access("/usr/sbin/iptables-legacy-restore", X_OK) != 0) {
    GTEST_SKIP() << "iptables-legacy-restore unavailable";
  }
  char path[] = "/tmp/kpx-libiptc-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  const pid_t pid = fork();
  if (pid == 0) _exit(RunInOwnNetns(path));
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  const std::string all = text.str();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "child status " << status << ": " << all;
  const auto split = all.find("libiptc:\n");
  ASSERT_NE(split, std::string::npos) << all;
  const std::string by_iptables = all.substr(10, split - 10);
  const std::string by_libiptc = all.substr(split + 9);
  EXPECT_EQ(by_libiptc, by_iptables);
  EXPECT_EQ(by_libiptc.find("unsupported"), std::string::npos) << by_libiptc;
  EXPECT_NE(by_libiptc.find("--dport 3868"), std::string::npos) << by_libiptc;
}

// The blob editor against the kernel: the same restores applied by iptables-legacy-restore
// (libiptc) in one namespace and by the runner (which edits the blob) in another read back
// identically with iptables-legacy-save after every step, and rules and chains another tool put in
// the same tables keep their counters.
class LibiptcBlobEditTest : public ::testing::TestWithParam<IpFamily> {
 protected:
  void SetUp() override {
    if (const std::string why = testing::TestNetns::Unavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    if (access("/usr/sbin/iptables-legacy-restore", X_OK) != 0) {
      GTEST_SKIP() << "iptables-legacy-restore unavailable";
    }
    netns_ = std::make_unique<testing::TestNetns>("kpx-xt");
    ASSERT_TRUE(netns_->Add("ref").ok());
    ASSERT_TRUE(netns_->Add("blob").ok());
  }
  bool v4() const { return GetParam() == IpFamily::kIPv4; }
  std::string Tool(const std::string& what) const {
    return std::string(v4() ? "iptables" : "ip6tables") + "-legacy" + what;
  }
  // Addresses of the family: Addr(1) is 10.0.0.1 or fd00::1.
  std::string Addr(int n) const { return (v4() ? "10.0.0." : "fd00::") + std::to_string(n); }
  std::string Dnat(int n) const { return v4() ? Addr(n) + ":8080" : "[" + Addr(n) + "]:8080"; }
  Status RestoreWithIptables(const std::string& role, const std::string& text) {
    testing::InNetns in(netns_->Name(role));
    auto r = SubprocessExecutor().Run({Tool("-restore"), "--noflush"}, text);
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) return Status::Error(Tool("-restore") + ": " + r->err);
    return Status::Ok();
  }
  Status RestoreWithRunner(const std::string& text) {
    testing::InNetns in(netns_->Name("blob"));
    return runner_.Restore(GetParam(), text);
  }
  Status RestoreWithLibiptc(const std::string& text) {
    testing::InNetns in(netns_->Name("ref"));
    return libiptc_.Restore(GetParam(), text);
  }
  // iptables-legacy-save of filter and nat, counters included when asked.
  std::string Save(const std::string& role, bool counters) {
    testing::InNetns in(netns_->Name(role));
    std::string out;
    for (const char* table : {"filter", "nat"}) {
      std::vector<std::string> argv = {Tool("-save"), "-t", table};
      if (counters) argv.push_back("-c");
      auto r = SubprocessExecutor().Run(argv, "");
      EXPECT_TRUE(r.ok() && r->exit_code == 0);
      if (r.ok()) out += r->out;
    }
    return std::regex_replace(out, std::regex("^#.*\n", std::regex::multiline), "");
  }
  // Applies `text` in both namespaces and expects the same tables. `in_pieces`: the runner
  // gets it as pieces (RestoreInPieces), each line its own, with an empty one after every third
  // and the sections' first and last lines cut away from their neighbours.
  void Step(const std::string& text, bool in_pieces = false) {
    Status ref = RestoreWithLibiptc(text);
    ASSERT_TRUE(ref.ok()) << ref.message() << "\n" << text;
    Status st;
    if (in_pieces) {
      std::vector<std::string_view> pieces;
      size_t pos = 0;
      for (int n = 1; pos < text.size(); ++n) {
        const size_t end = text.find('\n', pos);
        const size_t next = end == std::string::npos ? text.size() : end + 1;
        pieces.push_back(std::string_view(text).substr(pos, next - pos));
        if (n % 3 == 0) pieces.push_back({});
        pos = next;
      }
      testing::InNetns in(netns_->Name("blob"));
      st = runner_.RestoreInPieces(GetParam(), pieces);
    } else {
      st = RestoreWithRunner(text);
    }
    ASSERT_TRUE(st.ok()) << st.message() << "\n" << text;
    EXPECT_EQ(Save("blob", false), Save("ref", false)) << text;
  }
  // Lines of `save` that belong to the foreign rules and chains, with their counters.
  static std::string Foreign(const std::string& save) {
    std::istringstream in(save);
    std::string out;
    for (std::string line; std::getline(in, line);) {
      if (line.find("KUBE-") != std::string::npos) continue;
      if (line.find("FOREIGN") != std::string::npos || line.find("-o lo") != std::string::npos ||
          line.rfind(":INPUT", 0) == 0 || line.rfind(":OUTPUT", 0) == 0 ||
          line.rfind(":POSTROUTING", 0) == 0) {
        out += line + "\n";
      }
    }
    return out;
  }

  std::unique_ptr<testing::TestNetns> netns_;
  // The blob editor's own lock file: /run/xtables.lock is shared with every kernel test running
  // beside this one, and their writes (in other namespaces) would fire its watch and drop the
  // kept copy whose in-place edits this test checks. Only the runner writes its namespace
  // between steps, so nothing it must notice goes unseen.
  testing::TempDir dir_;
  static LibiptcIptablesRunner::Options BlobEditor(const std::string& lock_path) {
    LibiptcIptablesRunner::Options o;
    o.lock_path = lock_path;
    return o;
  }
  LibiptcIptablesRunner runner_{BlobEditor(dir_.File("xtables.lock"))};
  static LibiptcIptablesRunner::Options LibiptcOnly() {
    LibiptcIptablesRunner::Options o;
    o.edit_blobs = false;
    return o;
  }
  LibiptcIptablesRunner libiptc_{LibiptcOnly()};
};

TEST_P(LibiptcBlobEditTest, RestoresMatchIptablesAndForeignRulesKeepTheirCounters) {
  // Another tool's rules and chains, in both namespaces, through iptables itself.
  const std::string foreign =
      "*filter\n:FOREIGN - [0:0]\n-A INPUT -i lo -j FOREIGN\n-A FOREIGN -p tcp -j RETURN\n"
      "-A FOREIGN -p udp -j ACCEPT\n-A OUTPUT -o lo -j ACCEPT\nCOMMIT\n"
      "*nat\n:FOREIGN-NAT - [0:0]\n-A POSTROUTING -o lo -j FOREIGN-NAT\n"
      "-A FOREIGN-NAT -p udp -j RETURN\nCOMMIT\n";
  ASSERT_TRUE(RestoreWithIptables("ref", foreign).ok());
  ASSERT_TRUE(RestoreWithIptables("blob", foreign).ok());
  {
    // Some packets, so the foreign rules have counters to lose.
    testing::InNetns in(netns_->Name("blob"));
    for (int i = 0; i < 3; ++i) {
      const int fd = testing::UdpConnect(v4() ? "127.0.0.1" : "::1", 9);
      ASSERT_GE(fd, 0);
      EXPECT_TRUE(testing::SendAll(fd, "x"));
      close(fd);
    }
  }

  // A jump from a built-in chain into kpx's, as the dataplane adds it (through libiptc).
  ASSERT_TRUE(
      RestoreWithIptables("ref",
                          "*filter\n:KUBE-SVC - [0:0]\n-I INPUT -m comment --comment kpx -j "
                          "KUBE-SVC\nCOMMIT\n")
          .ok());
  {
    testing::InNetns in(netns_->Name("blob"));
    auto added = runner_.EnsureJump(
        GetParam(), JumpRule{"filter", "INPUT", {"-m", "comment", "--comment", "kpx"}, "KUBE-SVC"});
    ASSERT_TRUE(added.ok() && *added) << added.status().message();
  }
  EXPECT_EQ(Save("blob", false), Save("ref", false));

  // Counted after the jump went in: libiptc's commit of a changed built-in chain itself resets
  // that chain's policy counters (INPUT's here).
  const std::string counted = Foreign(Save("blob", true));
  ASSERT_NE(counted.find("[3:"), std::string::npos) << counted;

  // Chains with jumps between them, in both tables.
  Step(
      "*filter\n:KUBE-SVC - [0:0]\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n"
      "-A KUBE-SVC -d " +
      Addr(1) +
      " -p tcp -m tcp --dport 80 -j KUBE-A\n"
      "-A KUBE-SVC -m comment --comment \"ns/svc:http\" -j KUBE-B\n"
      "-A KUBE-A -m statistic --mode random --probability 0.5000000000 -j KUBE-B\n"
      "-A KUBE-A -j REJECT\n-A KUBE-B -j ACCEPT\nCOMMIT\n"
      "*nat\n:KUBE-N - [0:0]\n:KUBE-M - [0:0]\n"
      "-A KUBE-N -p tcp -m tcp --dport 80 -j DNAT --to-destination " +
      Dnat(2) +
      "\n"
      "-A KUBE-N -j KUBE-M\n-A KUBE-M -j MASQUERADE\nCOMMIT\n");
  // The counters go over on the runner's own thread after a restore returns (the Steps in
  // between waited for each other's); iptables-save here does not wait for it.
  runner_.FinishCounters();
  EXPECT_EQ(Foreign(Save("blob", true)), counted);
  EXPECT_GE(runner_.stats().deferred_restores, 1u);
  // Grow a chain before the jump targets, shrink one, create chains that sort first and last,
  // insert and append to a chain without declaring it.
  Step(
      "*filter\n:KUBE-A - [0:0]\n:KUBE-SVC - [0:0]\n:KUBE-0 - [0:0]\n:KUBE-Z - [0:0]\n"
      "-A KUBE-A -s " +
      Addr(3) + " -j KUBE-B\n-A KUBE-A -s " + Addr(4) +
      " -j KUBE-Z\n"
      "-A KUBE-A -s " +
      Addr(5) +
      " -j KUBE-0\n-A KUBE-A -j DROP\n"
      "-A KUBE-SVC -j KUBE-A\n-A KUBE-0 -j RETURN\n-A KUBE-Z -j KUBE-B\n"
      "-N KUBE-C\n-A KUBE-C -p udp -m udp ! --dport 53 -j ACCEPT\n"
      "-I KUBE-B -s " +
      Addr(6) + " -j KUBE-C\n-A KUBE-B -j FOREIGN\nCOMMIT\n");
  // Delete chains (declared to flush them first, as kube-proxy does, or flushed with -F), the
  // rest keep their places.
  Step(
      "*filter\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n:KUBE-SVC - [0:0]\n"
      "-A KUBE-SVC -j KUBE-0\n-A KUBE-B -j ACCEPT\n-F KUBE-C\n-X KUBE-C\n-X KUBE-A\n"
      "-F KUBE-Z\n-X KUBE-Z\nCOMMIT\n"
      "*nat\n:KUBE-M - [0:0]\n:KUBE-N - [0:0]\n-A KUBE-N -j ACCEPT\n-X KUBE-M\nCOMMIT\n");
  // The same kinds of edits handed over in pieces, as a full sync's are.
  Step("*filter\n:KUBE-B - [0:0]\n:KUBE-D - [0:0]\n-A KUBE-B -s " + Addr(7) +
           " -j KUBE-D\n-A KUBE-B -j ACCEPT\n-A KUBE-D -j RETURN\nCOMMIT\n"
           "*nat\n:KUBE-N - [0:0]\n:KUBE-P - [0:0]\n-A KUBE-N -j KUBE-P\n"
           "-A KUBE-P -p tcp -m tcp --dport 81 -j DNAT --to-destination " +
           Dnat(8) + "\nCOMMIT\n",
       true);
  EXPECT_EQ(runner_.stats().edited_sections, 7u);
  EXPECT_EQ(runner_.stats().libiptc_sections, 0u);
  EXPECT_EQ(libiptc_.stats().edited_sections, 0u);
  EXPECT_EQ(libiptc_.stats().libiptc_sections, 7u);
  // Some of those edits started from the table the runner kept and were made in place (no
  // iptables process ran between them), so that path too matched what libiptc wrote.
  EXPECT_GT(runner_.table_stats().kept_uses, 0u);

  // Errors leave the table as it was: a chain another rule jumps to, a missing chain.
  const std::string before = Save("blob", false);
  Status st = RestoreWithRunner("*filter\n:FOREIGN - [0:0]\n-X FOREIGN\nCOMMIT\n");
  EXPECT_NE(st.message().find("a rule still jumps to it"), std::string::npos) << st.message();
  st = RestoreWithRunner("*filter\n-A KUBE-NOPE -j ACCEPT\nCOMMIT\n");
  EXPECT_NE(st.message().find("KUBE-NOPE: no such chain"), std::string::npos) << st.message();
  EXPECT_EQ(Save("blob", false), before);

  // A section that changes a built-in chain goes through libiptc, with the same result.
  Step("*filter\n:FORWARD DROP [0:0]\n-A KUBE-B -j RETURN\nCOMMIT\n");
  EXPECT_EQ(runner_.stats().libiptc_sections, 1u);

  // No packets since: the foreign rules' counters are where they were.
  // The counters go over on the runner's own thread after a restore returns (the Steps in
  // between waited for each other's); iptables-save here does not wait for it.
  runner_.FinishCounters();
  EXPECT_EQ(Foreign(Save("blob", true)), counted);
}

// Jumps ensured together, in both tables and interleaved, leave the tables as the same jumps
// added one at a time do (each table opened and committed once); asked again, none is added.
TEST_P(LibiptcBlobEditTest, JumpsEnsuredTogetherEqualOneAtATime) {
  const std::vector<JumpRule> jumps = {
      {"filter", "INPUT", {"-m", "comment", "--comment", "kpx a"}, "KUBE-A"},
      {"nat", "OUTPUT", {"-m", "comment", "--comment", "kpx n"}, "KUBE-N"},
      {"filter", "FORWARD", {}, "KUBE-A"},
      {"filter", "INPUT", {"-m", "comment", "--comment", "kpx b"}, "KUBE-B"},
      {"nat", "PREROUTING", {}, "KUBE-N", false}};
  {
    testing::InNetns in(netns_->Name("ref"));
    for (const JumpRule& j : jumps) {
      auto added = libiptc_.EnsureJump(GetParam(), j);
      ASSERT_TRUE(added.ok() && *added) << added.status().message();
    }
  }
  {
    testing::InNetns in(netns_->Name("blob"));
    auto added = runner_.EnsureJumps(GetParam(), jumps);
    ASSERT_TRUE(added.ok()) << added.status().message();
    EXPECT_EQ(*added, std::vector<bool>(jumps.size(), true));
    auto again = runner_.EnsureJumps(GetParam(), jumps);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(*again, std::vector<bool>(jumps.size(), false));
  }
  const std::string saved = Save("blob", false);
  EXPECT_EQ(saved, Save("ref", false));
  EXPECT_NE(saved.find("-A PREROUTING -j KUBE-N"), std::string::npos) << saved;
}

INSTANTIATE_TEST_SUITE_P(Families, LibiptcBlobEditTest,
                         ::testing::Values(IpFamily::kIPv4, IpFamily::kIPv6), [](const auto& info) {
                           return info.param == IpFamily::kIPv4 ? "IPv4" : "IPv6";
                         });

// The runner takes the xtables lock iptables-legacy takes, and through it sees writes the table's
// size cannot show: a rule rewritten in place by iptables between two syncs survives the second
// (the kept copy is dropped), while two syncs with nothing in between need no read-back.
class LibiptcRunnerLockTest : public testing::LegacyIptablesTest {
 protected:
  LibiptcRunnerLockTest() : LegacyIptablesTest("kpx-iptlk") { lock_file_ = lock_path_; }
  static std::string Save() { return SaveFilter(); }
  static std::string KubeX(const std::string& source) {
    return "*filter\n:KUBE-X - [0:0]\n-A KUBE-X -s " + source + " -j ACCEPT\nCOMMIT\n";
  }
  LibiptcIptablesRunner::Options Options() const {
    LibiptcIptablesRunner::Options o;
    o.lock_path = lock_path_;
    o.lock_wait = std::chrono::milliseconds(200);
    o.tables.trust_kept_for = std::chrono::hours(1);
    return o;
  }

  testing::TempDir dir_;
  const std::string lock_path_ = dir_.File("xtables.lock");
};

TEST_F(LibiptcRunnerLockTest, SeesRewritesThroughTheLockAndWaitsForIt) {
  testing::InNetns in(netns_->Name("node"));
  Iptables({"-N", "FOREIGN"});
  Iptables({"-A", "FOREIGN", "-s", "10.9.9.9", "-j", "DROP"});
  LibiptcIptablesRunner runner(Options());
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.1")).ok());
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.2")).ok());
  EXPECT_EQ(runner.table_stats().reads, 1u);
  EXPECT_EQ(runner.table_stats().kept_uses, 1u);
  MetricsRegistry metrics;
  runner.RecordMetrics(metrics);
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("kpx_iptables_table_edits_total{start=\"kept\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("kpx_iptables_table_edits_total{start=\"read\"} 1"), std::string::npos)
      << text;

  // Same size, same entry count: only the lock's watch can tell.
  Iptables({"-R", "FOREIGN", "1", "-s", "10.8.8.8", "-j", "DROP"});
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.3")).ok());
  EXPECT_EQ(runner.table_stats().reads, 2u);
  runner.RecordMetrics(metrics);
  EXPECT_NE(metrics.Render().find("kpx_iptables_kept_tables_dropped_total 1"), std::string::npos)
      << metrics.Render();
  std::string saved = Save();
  EXPECT_NE(saved.find("-A FOREIGN -s 10.8.8.8/32 -j DROP"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A KUBE-X -s 10.0.0.3/32 -j ACCEPT"), std::string::npos) << saved;

  // While someone else holds the lock, a sync waits for it and then fails, writing nothing.
  {
    XtablesLock other(lock_path_);
    auto held = other.Acquire(std::chrono::milliseconds(0));
    ASSERT_TRUE(held.ok()) << held.status().message();
    Status st = runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.4"));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find(lock_path_), std::string::npos) << st.message();
  }
  saved = Save();
  EXPECT_EQ(saved.find("10.0.0.4"), std::string::npos) << saved;
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.5")).ok());
  EXPECT_NE(Save().find("-A KUBE-X -s 10.0.0.5/32 -j ACCEPT"), std::string::npos);
}

// libiptc's own commits (the jump rules, on full syncs) make the runner forget only the copy of
// the table they changed: the other tables' next edits still start from their kept copies.
TEST_F(LibiptcRunnerLockTest, ALibiptcCommitForgetsOnlyTheTableItChanged) {
  testing::InNetns in(netns_->Name("node"));
  LibiptcIptablesRunner runner(Options());
  const std::string nat = "*nat\n:KUBE-N - [0:0]\n-A KUBE-N -j RETURN\nCOMMIT\n";
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.1") + nat).ok());
  EXPECT_EQ(runner.table_stats().reads, 2u);  // filter and nat, read once
  auto added = runner.EnsureJump(IpFamily::kIPv4, JumpRule{"nat", "OUTPUT", {}, "KUBE-N"});
  ASSERT_TRUE(added.ok() && *added) << added.status().message();
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.2") + nat).ok());
  EXPECT_EQ(runner.table_stats().kept_uses, 1u);  // filter
  EXPECT_EQ(runner.table_stats().reads, 3u);      // nat again, which libiptc changed
  const std::string saved = Save();
  EXPECT_NE(saved.find("-A KUBE-X -s 10.0.0.2/32 -j ACCEPT"), std::string::npos) << saved;

  // A check that finds the jump (every later full sync's) commits nothing: both tables' next
  // edits start from their kept copies. So does a delete of a jump that is not there.
  added = runner.EnsureJump(IpFamily::kIPv4, JumpRule{"nat", "OUTPUT", {}, "KUBE-N"});
  ASSERT_TRUE(added.ok() && !*added) << added.status().message();
  auto deleted = runner.DeleteJump(IpFamily::kIPv4, JumpRule{"nat", "PREROUTING", {}, "KUBE-N"});
  ASSERT_TRUE(deleted.ok() && !*deleted) << deleted.status().message();
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.3") + nat).ok());
  EXPECT_EQ(runner.table_stats().kept_uses, 3u);
  EXPECT_EQ(runner.table_stats().reads, 3u);
  // One that deletes it does commit: nat is read again.
  deleted = runner.DeleteJump(IpFamily::kIPv4, JumpRule{"nat", "OUTPUT", {}, "KUBE-N"});
  ASSERT_TRUE(deleted.ok() && *deleted) << deleted.status().message();
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.4") + nat).ok());
  EXPECT_EQ(runner.table_stats().kept_uses, 4u);
  EXPECT_EQ(runner.table_stats().reads, 4u);
  // And a check after it adds the jump back.
  added = runner.EnsureJump(IpFamily::kIPv4, JumpRule{"nat", "OUTPUT", {}, "KUBE-N"});
  ASSERT_TRUE(added.ok() && *added) << added.status().message();
}

// The blob path reads each section as it plans it. What it does not take goes to libiptc whole,
// in the order of its lines, as iptables-legacy-restore --noflush takes them: a chain declared
// after one of its rules flushes that rule. A syntax error in a later section fails the restore
// there.
TEST_F(LibiptcRunnerLockTest, SectionsTheBlobPathDeclinesGoThroughLibiptc) {
  testing::InNetns in(netns_->Name("node"));
  LibiptcIptablesRunner runner(Options());
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.1")).ok());
  EXPECT_EQ(runner.stats().edited_sections, 1u);
  ASSERT_TRUE(runner
                  .Restore(IpFamily::kIPv4,
                           "*filter\n-A KUBE-X -s 10.0.0.2 -j ACCEPT\n:KUBE-X - [0:0]\n"
                           "-A KUBE-X -s 10.0.0.3 -j ACCEPT\nCOMMIT\n")
                  .ok());
  EXPECT_EQ(runner.stats().edited_sections, 1u);
  EXPECT_EQ(runner.stats().libiptc_sections, 1u);
  std::string saved = Save();
  EXPECT_EQ(saved.find("10.0.0.1"), std::string::npos) << saved;
  EXPECT_EQ(saved.find("10.0.0.2"), std::string::npos) << saved;
  EXPECT_NE(saved.find("-A KUBE-X -s 10.0.0.3/32 -j ACCEPT\n"), std::string::npos) << saved;
  Status st = runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.4") + "*nat\n-Z X\nCOMMIT\n");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "x_tables nat: restore input line 6: unsupported command -Z");
  EXPECT_NE(Save().find("-A KUBE-X -s 10.0.0.4/32 -j ACCEPT"), std::string::npos);
  // A section the blob path declines (a built-in chain) fails in libiptc's hands with the line
  // number in the whole text too.
  st = runner.Restore(IpFamily::kIPv4,
                      KubeX("10.0.0.5") + "*nat\n-A OUTPUT -m nosuch -j ACCEPT\nCOMMIT\n");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "line 6: match nosuch unsupported by the libiptc runner");
  st = runner.Restore(IpFamily::kIPv4, "-A KUBE-X -j ACCEPT\n");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "restore input line 1: command outside a table");
}

// A lock file that cannot exist (its directory does not) locks nobody out: the runner writes
// without it, reading the table back every time since nothing can watch for other writers.
TEST_F(LibiptcRunnerLockTest, WritesWithoutALockFileNobodyCanOpen) {
  testing::InNetns in(netns_->Name("node"));
  LibiptcIptablesRunner::Options o = Options();
  o.lock_path = dir_.File("missing/xtables.lock");
  LibiptcIptablesRunner runner(o);
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.1")).ok());
  ASSERT_TRUE(runner.Restore(IpFamily::kIPv4, KubeX("10.0.0.2")).ok());
  EXPECT_NE(Save().find("-A KUBE-X -s 10.0.0.2/32 -j ACCEPT"), std::string::npos);
  EXPECT_EQ(runner.table_stats().reads, 2u);
  EXPECT_EQ(runner.table_stats().kept_uses, 0u);
}

}  // namespace
}  // namespace kpx
