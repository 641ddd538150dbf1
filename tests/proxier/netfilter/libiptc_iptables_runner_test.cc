// The libiptc runner writes rules the way iptables itself writes them: the same rules restored
// by iptables-legacy-restore and by the libiptc runner read back identically with
// iptables-legacy-save (no "[unsupported revision]", no widened port ranges). Runs in a network
// namespace of its own (a forked child unshares one), so nothing touches the host's tables.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "proxier/netfilter/libiptc_iptables_runner.h"
#include "proxier/netfilter/netlink_nfacct.h"
#include "proxier/netfilter/subprocess_executor.h"

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

}  // namespace
}  // namespace kpx
