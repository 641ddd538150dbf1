// Real-kernel tests: three private network namespaces (client, node, backend) joined by veth
// pairs, kpx's iptables dataplane applied inside the node namespace through the real runners,
// real TCP and UDP traffic. Needs root; skips with a message otherwise. Never touches the
// host's own namespace: every iptables call happens on a thread switched into the node namespace,
// and the switch is verified before anything runs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <regex>
#include <set>

#include "proxier/iptables/iptables_dataplane.h"
#include "proxier/netfilter/exec_conntrack.h"
#include "proxier/netfilter/exec_iptables_runner.h"
#include "proxier/netfilter/libiptc_iptables_runner.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::Ip;
using testing::Net;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: client 10.99.1.2 -- node 10.99.1.1 | node 10.99.2.1 -- backends 10.99.2.2, 10.99.2.3
// (both on one veth). Services 172.30.0.0/16, NodePort 30080.
constexpr char kClientIp[] = "10.99.1.2";
constexpr char kNodeIp[] = "10.99.1.1";
constexpr char kBackend1[] = "10.99.2.2";
constexpr char kBackend2[] = "10.99.2.3";

// Namespaces to remove if the test is killed: a signal handler can only do syscalls, so the
// paths are prepared up front.
char g_cleanup_paths[3][128];

void EmergencyCleanup(int sig) {
  for (auto& p : g_cleanup_paths) {
    if (p[0] != '\0') {
      umount2(p, MNT_DETACH);
      unlink(p);
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

Status RunCommand(std::vector<std::string> argv) {
  SubprocessExecutor exec;
  auto out = exec.Run(argv, "");
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) return Status::Error(argv[0] + " " + argv[1] + ": " + out->err);
  return Status::Ok();
}

ino_t NetnsInode(int fd) {
  struct stat st {};
  fstat(fd, &st);
  return st.st_ino;
}

// Switches the calling thread into a named namespace for the guard's lifetime.
class InNetns {
 public:
  explicit InNetns(const std::string& name) {
    original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (original_ < 0 || target < 0) std::abort();
    const ino_t host = NetnsInode(original_);
    if (setns(target, CLONE_NEWNET) != 0) std::abort();
    close(target);
    const int now = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    // Refuse to continue in the host namespace: nothing here may touch its rules.
    if (NetnsInode(now) == host) std::abort();
    close(now);
  }
  ~InNetns() {
    if (setns(original_, CLONE_NEWNET) != 0) std::abort();
    close(original_);
  }

 private:
  int original_ = -1;
};

// TCP and UDP echo-my-address servers for one backend address, in a child process.
pid_t StartServer(const std::string& netns, const std::string& ip, int tcp_port, int udp_port) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(1);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  const int t = socket(AF_INET, SOCK_STREAM, 0);
  const int u = socket(AF_INET, SOCK_DGRAM, 0);
  const int one = 1;
  setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  addr.sin_port = htons(tcp_port);
  if (bind(t, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(t, 64) != 0)
    _exit(2);
  addr.sin_port = htons(udp_port);
  if (bind(u, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(3);
  const std::string reply = ip + "\n";
  for (;;) {
    pollfd fds[2] = {{t, POLLIN, 0}, {u, POLLIN, 0}};
    if (poll(fds, 2, -1) <= 0) continue;
    if (fds[0].revents) {
      const int c = accept(t, nullptr, nullptr);
      if (c >= 0) {
        (void)!write(c, reply.data(), reply.size());
        close(c);
      }
    }
    if (fds[1].revents) {
      char buf[512];
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      if (recvfrom(u, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len) >= 0) {
        sendto(u, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }
  }
}

// One request from the client namespace: the server's reply ("10.99.2.2"), or "refused",
// "timeout", "error".
std::string Request(const std::string& netns, int type, const std::string& ip, int port,
                    std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
  InNetns in(netns);
  const int s = socket(AF_INET, type | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  std::string result = "timeout";
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS) {
    close(s);
    return errno == ECONNREFUSED ? "refused" : "error";
  }
  if (type == SOCK_DGRAM) (void)!send(s, "hi", 2, 0);
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{s, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t n = recv(s, buf, sizeof(buf), 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      if (got.back() == '\n') break;
      continue;
    }
    if (n < 0 && errno == ECONNREFUSED) {
      result = "refused";
      got.clear();
      break;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN)) break;
  }
  close(s);
  if (!got.empty() && got.back() == '\n') return got.substr(0, got.size() - 1);
  return result;
}

std::string Normalize(std::string save) {
  save = std::regex_replace(save, std::regex("^#.*\n", std::regex::multiline), "");
  return std::regex_replace(save, std::regex("\\[[0-9]+:[0-9]+\\]"), "[0:0]");
}

class IptablesIntegrationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, iptables)";
    if (!RunCommand({"ip", "netns", "list"}).ok())
      GTEST_SKIP() << "iproute2 'ip netns' unavailable";
    std::random_device rd;
    const std::string tag = std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
    client_ = "kpx-ipt-" + tag + "-c";
    node_ = "kpx-ipt-" + tag + "-n";
    backend_ = "kpx-ipt-" + tag + "-b";
    const std::string names[3] = {client_, node_, backend_};
    for (int i = 0; i < 3; ++i) {
      std::snprintf(g_cleanup_paths[i], sizeof(g_cleanup_paths[i]), "/run/netns/%s",
                    names[i].c_str());
    }
    for (int sig : {SIGINT, SIGTERM, SIGABRT, SIGSEGV}) signal(sig, EmergencyCleanup);
    for (const auto& n : names) {
      ASSERT_TRUE(RunCommand({"ip", "netns", "add", n}).ok()) << n;
      created_.push_back(n);
    }
    const std::vector<std::vector<std::string>> setup = {
        {"ip", "link", "add", "kc0", "netns", client_, "type", "veth", "peer", "name", "kn0",
         "netns", node_},
        {"ip", "link", "add", "kb0", "netns", backend_, "type", "veth", "peer", "name", "kn1",
         "netns", node_},
        {"ip", "-n", client_, "addr", "add", std::string(kClientIp) + "/24", "dev", "kc0"},
        {"ip", "-n", node_, "addr", "add", std::string(kNodeIp) + "/24", "dev", "kn0"},
        {"ip", "-n", node_, "addr", "add", "10.99.2.1/24", "dev", "kn1"},
        {"ip", "-n", backend_, "addr", "add", std::string(kBackend1) + "/24", "dev", "kb0"},
        {"ip", "-n", backend_, "addr", "add", std::string(kBackend2) + "/24", "dev", "kb0"},
        {"ip", "-n", client_, "link", "set", "kc0", "up"},
        {"ip", "-n", client_, "link", "set", "lo", "up"},
        {"ip", "-n", node_, "link", "set", "kn0", "up"},
        {"ip", "-n", node_, "link", "set", "kn1", "up"},
        {"ip", "-n", node_, "link", "set", "lo", "up"},
        {"ip", "-n", backend_, "link", "set", "kb0", "up"},
        {"ip", "-n", backend_, "link", "set", "lo", "up"},
        {"ip", "-n", client_, "route", "add", "default", "via", kNodeIp},
        {"ip", "-n", backend_, "route", "add", "default", "via", "10.99.2.1"},
        // Like a node's default route: unDNATed service traffic must be routable to reach the
        // FORWARD chain (and its REJECT rules) instead of dying in the routing decision.
        {"ip", "-n", node_, "route", "add", "default", "via", kBackend1},
        {"ip", "netns", "exec", node_, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
    };
    for (const auto& cmd : setup)
      ASSERT_TRUE(RunCommand(cmd).ok()) << cmd[1] << " " << cmd[2] << " " << cmd[3];
    for (const char* ip : {kBackend1, kBackend2})
      servers_.push_back(StartServer(backend_, ip, 8080, 5353));

    IptablesOptions o;
    o.families = {IpFamily::kIPv4};
    o.cluster_cidrs = {Net("10.99.2.0/24")};
    auto exec = std::make_shared<SubprocessExecutor>();
    std::unique_ptr<IptablesRunner> runner;
    if (GetParam() == "nft")
      runner = std::make_unique<ExecIptablesRunner>(IptablesFlavor::kNft, exec);
    if (GetParam() == "legacy")
      runner = std::make_unique<ExecIptablesRunner>(IptablesFlavor::kLegacy, exec);
    if (GetParam() == "libiptc") runner = std::make_unique<LibiptcIptablesRunner>();
    dataplane_ = std::make_unique<IptablesDataplane>(o, std::move(runner),
                                                     std::make_unique<ExecConntrack>(exec));
    builder_.Node([](NodeState& n) { n.addresses = {Ip(kNodeIp)}; });
    // Someone else's rules in every built-in chain kpx touches, so the tables exist before kpx
    // runs and "cleanup leaves them as they were" is a meaningful comparison.
    const std::string tool = GetParam() == "nft" ? "-nft" : "-legacy";
    InNetns in(node_);
    for (const char* fam : {"iptables", "ip6tables"}) {
      const std::string bin = std::string(fam) + tool;
      const char* src = std::string(fam) == "iptables" ? "192.0.2.1" : "2001:db8::1";
      for (auto [table, chain] : {std::pair{"nat", "PREROUTING"},
                                  {"nat", "OUTPUT"},
                                  {"nat", "POSTROUTING"},
                                  {"filter", "INPUT"},
                                  {"filter", "FORWARD"},
                                  {"filter", "OUTPUT"}}) {
        ASSERT_TRUE(
            RunCommand({bin, "-w", "5", "-t", table, "-A", chain, "-s", src, "-j", "ACCEPT"}).ok());
      }
    }
  }

  void TearDown() override {
    dataplane_.reset();
    for (pid_t pid : servers_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    for (const auto& n : created_) (void)RunCommand({"ip", "netns", "del", n});
    for (auto& p : g_cleanup_paths) p[0] = '\0';
  }

  std::string SaveAll() {
    InNetns in(node_);
    const std::string tool = GetParam() == "nft" ? "-nft-save" : "-legacy-save";
    std::string all;
    SubprocessExecutor exec;
    for (const char* fam : {"iptables", "ip6tables"}) {
      for (const char* table : {"nat", "filter"}) {
        auto out = exec.Run({std::string(fam) + tool, "-t", table}, "");
        if (out.ok()) all += out->out;
      }
    }
    return Normalize(all);
  }

  Status Apply(bool full = false) {
    InNetns in(node_);
    return dataplane_->Apply(builder_.Build(), full);
  }

  void Web(const std::vector<EndpointInfo>& eps) {
    builder_.Add(Svc("default", "web", "", Protocol::kTCP, 80, "172.30.0.10",
                     [](ServicePortInfo& s) { s.node_port = 30080; }),
                 eps);
  }
  void Dns(const std::vector<EndpointInfo>& eps) {
    builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, "172.30.0.10"), eps);
  }
  std::set<std::string> Answers(int type, const std::string& ip, int port, int n = 24) {
    std::set<std::string> out;
    for (int i = 0; i < n; ++i) out.insert(Request(client_, type, ip, port));
    return out;
  }

  std::string client_, node_, backend_;
  std::vector<std::string> created_;
  std::vector<pid_t> servers_;
  std::unique_ptr<IptablesDataplane> dataplane_;
  StateBuilderForTest builder_{"node-a"};
};

TEST_P(IptablesIntegrationTest, ServiceTrafficEndpointChangesAndCleanup) {
  const std::string before = SaveAll();
  const std::set<std::string> both = {kBackend1, kBackend2};
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Dns({Ep(kBackend1, 5353), Ep(kBackend2, 5353)});
  builder_.Add(Svc("default", "empty", "", Protocol::kTCP, 80, "172.30.0.11"), {});
  builder_.Add(Svc("default", "empty", "dns", Protocol::kUDP, 53, "172.30.0.11"), {});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();

  // ClusterIP balances over both backends, for TCP and UDP; NodePort works from outside.
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  EXPECT_EQ(Answers(SOCK_DGRAM, "172.30.0.10", 53), both);
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);

  // No endpoints: refused, not a black hole.
  // TCP: with veth, the ICMP for the first SYN arrives while connect() still holds the socket
  // lock and only counts as a soft error, so the refusal lands on a retransmission (1 s, 3 s),
  // not after the ~2 min a black hole would take. UDP has no such lock: immediate.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.11", 80, std::chrono::milliseconds(5000)),
            "refused");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(4000));
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Request(client_, SOCK_DGRAM, "172.30.0.11", 53), "refused");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));

  // Endpoint removed, then added back (partial syncs).
  Web({Ep(kBackend1, 8080)});
  Dns({Ep(kBackend1, 5353)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), std::set<std::string>{kBackend1});
  EXPECT_EQ(Answers(SOCK_DGRAM, "172.30.0.10", 53), std::set<std::string>{kBackend1});
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  // The empty service gains an endpoint.
  builder_.Add(Svc("default", "empty", "", Protocol::kTCP, 80, "172.30.0.11"),
               {Ep(kBackend2, 8080)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.11", 80), kBackend2);
  // A full resync changes nothing that works.
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);

  {
    InNetns in(node_);
    st = dataplane_->Cleanup();
  }
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(SaveAll(), before);
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.10", 80), "timeout");
}

INSTANTIATE_TEST_SUITE_P(Backends, IptablesIntegrationTest,
                         ::testing::Values("nft", "legacy", "libiptc"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kpx
