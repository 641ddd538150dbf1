#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proxier/netfilter/backend_detection.h"
#include "proxier/netfilter/exec_iptables_runner.h"
#include "proxier/netfilter/fake_iptables_runner.h"
#include "proxier/netfilter/subprocess_executor.h"

namespace kpx {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records every argv and answers from a script keyed by the argv's first words.
class RecordingExecutor : public CommandExecutor {
 public:
  Result<CommandOutput> Run(const std::vector<std::string>& argv,
                            std::string_view stdin_data) override {
    calls.push_back(argv);
    stdins.emplace_back(stdin_data);
    for (const auto& [prefix, out] : answers) {
      if (argv.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), argv.begin())) {
        return out;
      }
    }
    return CommandOutput{};
  }
  std::vector<std::vector<std::string>> calls;
  std::vector<std::string> stdins;
  std::vector<std::pair<std::vector<std::string>, CommandOutput>> answers;
};

const JumpRule kJump{"nat",
                     "PREROUTING",
                     {"-m", "comment", "--comment", "kubernetes service portals"},
                     "KUBE-SERVICES"};

TEST(ExecIptablesRunner, RestoreArgvAndStdin) {
  auto exec = std::make_shared<RecordingExecutor>();
  ExecIptablesRunner nft(IptablesFlavor::kNft, exec);
  ASSERT_TRUE(nft.Restore(IpFamily::kIPv6, "*nat\nCOMMIT\n").ok());
  EXPECT_THAT(exec->calls.back(),
              ElementsAre("ip6tables-nft-restore", "-w", "5", "--noflush", "--counters"));
  EXPECT_EQ(exec->stdins.back(), "*nat\nCOMMIT\n");
  ExecIptablesRunner legacy(IptablesFlavor::kLegacy, exec);
  ASSERT_TRUE(legacy.Save(IpFamily::kIPv4, "filter").ok());
  EXPECT_THAT(exec->calls.back(), ElementsAre("iptables-legacy-save", "-t", "filter"));
  ExecIptablesRunner system(IptablesFlavor::kSystem, exec);
  EXPECT_EQ(system.Binary(IpFamily::kIPv4, "-restore"), "iptables-restore");
}

TEST(ExecIptablesRunner, RestoreFailureCarriesStderr) {
  auto exec = std::make_shared<RecordingExecutor>();
  exec->answers.push_back({{"iptables-nft-restore"}, {2, "", "line 3 failed\n"}});
  ExecIptablesRunner r(IptablesFlavor::kNft, exec);
  Status st = r.Restore(IpFamily::kIPv4, "x");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("line 3 failed"));
}

TEST(ExecIptablesRunner, EnsureJumpChecksBeforeInserting) {
  auto exec = std::make_shared<RecordingExecutor>();
  exec->answers.push_back({{"iptables-nft", "-w", "5", "-t", "nat", "-N"},
                           {1, "", "iptables: Chain already exists.\n"}});
  exec->answers.push_back({{"iptables-nft", "-w", "5", "-t", "nat", "-C"}, {1, "", ""}});
  ExecIptablesRunner r(IptablesFlavor::kNft, exec);
  auto added = r.EnsureJump(IpFamily::kIPv4, kJump);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_TRUE(*added);
  ASSERT_EQ(exec->calls.size(), 3u);
  EXPECT_THAT(exec->calls[0],
              ElementsAre("iptables-nft", "-w", "5", "-t", "nat", "-N", "KUBE-SERVICES"));
  EXPECT_THAT(exec->calls[1], ElementsAre("iptables-nft", "-w", "5", "-t", "nat", "-C",
                                          "PREROUTING", "-m", "comment", "--comment",
                                          "kubernetes service portals", "-j", "KUBE-SERVICES"));
  EXPECT_THAT(exec->calls[2], ElementsAre("iptables-nft", "-w", "5", "-t", "nat", "-I",
                                          "PREROUTING", "-m", "comment", "--comment",
                                          "kubernetes service portals", "-j", "KUBE-SERVICES"));
  // Present already: nothing inserted.
  exec->answers[1].second.exit_code = 0;
  exec->calls.clear();
  added = r.EnsureJump(IpFamily::kIPv4, kJump);
  ASSERT_TRUE(added.ok());
  EXPECT_FALSE(*added);
  EXPECT_EQ(exec->calls.size(), 2u);
}

TEST(ExecIptablesRunner, DeleteChainsOnlyTouchesExistingOnes) {
  auto exec = std::make_shared<RecordingExecutor>();
  exec->answers.push_back(
      {{"iptables-save"},
       {0, "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-A - [0:0]\nCOMMIT\n", ""}});
  ExecIptablesRunner r(IptablesFlavor::kSystem, exec);
  ASSERT_TRUE(r.DeleteChains(IpFamily::kIPv4, "nat", {"KUBE-SVC-A", "KUBE-SVC-B"}).ok());
  EXPECT_EQ(exec->stdins.back(), "*nat\n:KUBE-SVC-A - [0:0]\n-X KUBE-SVC-A\nCOMMIT\n");
}

TEST(BackendDetection, FollowsIptablesWrapper) {
  const std::string hint = "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n";
  const std::string many = "-A X -j ACCEPT\n-A X -j ACCEPT\n";
  EXPECT_EQ(ChooseIptablesFlavor({"", ""}, {"", ""}), IptablesFlavor::kNft);
  EXPECT_EQ(ChooseIptablesFlavor({"", ""}, {hint, ""}), IptablesFlavor::kLegacy);
  EXPECT_EQ(ChooseIptablesFlavor({hint, ""}, {hint, many}), IptablesFlavor::kNft);
  EXPECT_EQ(ChooseIptablesFlavor({"", "-A X -j ACCEPT\n"}, {"", many}), IptablesFlavor::kLegacy);
  EXPECT_EQ(ChooseIptablesFlavor({"", many}, {"", many}), IptablesFlavor::kNft);
}

TEST(SubprocessExecutor, PipesStdinAndCollectsOutput) {
  SubprocessExecutor exec;
  std::string big(1 << 20, 'x');
  auto out = exec.Run({"cat"}, big);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->exit_code, 0);
  EXPECT_EQ(out->out.size(), big.size());
  auto fail = exec.Run({"sh", "-c", "echo oops >&2; exit 3"}, "");
  ASSERT_TRUE(fail.ok());
  EXPECT_EQ(fail->exit_code, 3);
  EXPECT_EQ(fail->err, "oops\n");
  // A child that exits without reading its input must not kill us with SIGPIPE.
  auto early = exec.Run({"true"}, big);
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(exec.Run({"/nonexistent/kpx-binary"}, "").ok());
}

TEST(FakeIptablesRunner, NoflushKeepsUndeclaredChainsAndFlushesDeclaredOnes) {
  FakeIptablesRunner fake;
  ASSERT_TRUE(fake.Restore(IpFamily::kIPv4,
                           "*nat\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j RETURN\nCOMMIT\n")
                  .ok());
  ASSERT_TRUE(fake.Restore(IpFamily::kIPv4, "*nat\n:A - [0:0]\n-A A -j RETURN\nCOMMIT\n").ok());
  EXPECT_THAT(fake.RuleLines(IpFamily::kIPv4, "nat", "A"), ElementsAre("-A A -j RETURN"));
  EXPECT_THAT(fake.RuleLines(IpFamily::kIPv4, "nat", "B"), ElementsAre("-A B -j RETURN"));
  // Families are separate.
  EXPECT_EQ(fake.GetChain(IpFamily::kIPv6, "nat", "A"), nullptr);
}

TEST(FakeIptablesRunner, RejectsWhatTheKernelRejectsAndChangesNothing) {
  FakeIptablesRunner fake;
  ASSERT_TRUE(
      fake.Restore(IpFamily::kIPv4, "*nat\n:A - [0:0]\n:B - [0:0]\n-A A -j B\nCOMMIT\n").ok());
  const auto before = fake.Save(IpFamily::kIPv4, "nat").value();
  for (const char* bad : {
           "*nat\n:C - [0:0]\n-A C -j MISSING\nCOMMIT\n",  // jump to a missing chain
           "*nat\n-X B\nCOMMIT\n",                         // referenced
           "*nat\n-X A\nCOMMIT\n",                         // not empty
           "*nat\n-X NOPE\nCOMMIT\n",                      // missing
           "*nat\n-A NOPE -j ACCEPT\nCOMMIT\n",            // undeclared chain
           "*filter\n:F - [0:0]\n-A F -j DNAT --to-destination 1.2.3.4:5\nCOMMIT\n",
           "*nat\n:C - [0:0]\n-A C -j ACCEPT\n",  // no COMMIT
       }) {
    EXPECT_FALSE(fake.Restore(IpFamily::kIPv4, bad).ok()) << bad;
  }
  EXPECT_EQ(fake.Save(IpFamily::kIPv4, "nat").value(), before);
  // Declaring flushes, so the references go away and both can be deleted in one go.
  EXPECT_TRUE(
      fake.Restore(IpFamily::kIPv4, "*nat\n:A - [0:0]\n:B - [0:0]\n-X A\n-X B\nCOMMIT\n").ok());
  EXPECT_EQ(fake.GetChain(IpFamily::kIPv4, "nat", "A"), nullptr);
}

TEST(FakeIptablesRunner, JumpsAreEnsuredOnceAndDeleted) {
  FakeIptablesRunner fake;
  EXPECT_TRUE(fake.EnsureJump(IpFamily::kIPv4, kJump).value());
  EXPECT_FALSE(fake.EnsureJump(IpFamily::kIPv4, kJump).value());
  EXPECT_EQ(fake.RuleLines(IpFamily::kIPv4, "nat", "PREROUTING").size(), 1u);
  EXPECT_NE(fake.GetChain(IpFamily::kIPv4, "nat", "KUBE-SERVICES"), nullptr);
  EXPECT_TRUE(fake.DeleteJump(IpFamily::kIPv4, kJump).value());
  EXPECT_FALSE(fake.DeleteJump(IpFamily::kIPv4, kJump).value());
  EXPECT_TRUE(fake.DeleteChains(IpFamily::kIPv4, "nat", {"KUBE-SERVICES", "KUBE-NONE"}).ok());
  EXPECT_EQ(fake.GetChain(IpFamily::kIPv4, "nat", "KUBE-SERVICES"), nullptr);
}

}  // namespace
}  // namespace kpx
