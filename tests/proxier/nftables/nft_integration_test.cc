// Real-kernel tests of the nftables mode: three private network namespaces (client, node,
// backend) joined by veth pairs (the topology of the iptables integration test), kpx's nftables
// dataplane programming the node namespace through its own netlink socket (opened inside that
// namespace), real TCP and UDP traffic. Needs root; skips with a message otherwise. The `nft`
// binary is used only to inspect and to damage state (drift repair).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "proxier/netfilter/exec_conntrack.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "proxier/nftables/netlink_nft_handle.h"
#include "proxier/nftables/nft_dataplane.h"
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
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
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
  for (;;) {
    pollfd fds[2] = {{t, POLLIN, 0}, {u, POLLIN, 0}};
    if (poll(fds, 2, -1) <= 0) continue;
    if (fds[0].revents) {
      sockaddr_in peer{};
      socklen_t plen = sizeof(peer);
      const int c = accept(t, reinterpret_cast<sockaddr*>(&peer), &plen);
      if (c >= 0) {
        char from[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &peer.sin_addr, from, sizeof(from));
        // "<server> <peer>": which backend answered and whom it saw (masquerade or not).
        const std::string r = ip + " " + from + "\n";
        (void)!write(c, r.data(), r.size());
        close(c);
      }
    }
    if (fds[1].revents) {
      char buf[512];
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      if (recvfrom(u, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len) >= 0) {
        char peer[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &from.sin_addr, peer, sizeof(peer));
        const std::string r = ip + " " + peer + "\n";
        sendto(u, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
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

// An IPv6 TCP server answering "<server> <peer>", in a child process.
pid_t StartServer6(const std::string& netns, const std::string& ip, int tcp_port) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(1);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(tcp_port);
  inet_pton(AF_INET6, ip.c_str(), &addr.sin6_addr);
  const int t = socket(AF_INET6, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(t, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));  // DAD may still be running
  if (bind(t, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(t, 64) != 0)
    _exit(2);
  for (;;) {
    sockaddr_in6 peer{};
    socklen_t plen = sizeof(peer);
    const int c = accept(t, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (c < 0) continue;
    char from[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, &peer.sin6_addr, from, sizeof(from));
    const std::string r = ip + " " + from + "\n";
    (void)!write(c, r.data(), r.size());
    close(c);
  }
}

// One IPv6 TCP request from `netns`: the reply, or "refused", "timeout", "error".
std::string Request6(const std::string& netns, const std::string& ip, int port,
                     std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
  InNetns in(netns);
  const int s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  inet_pton(AF_INET6, ip.c_str(), &addr.sin6_addr);
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS) {
    close(s);
    return errno == ECONNREFUSED ? "refused" : "error";
  }
  std::string got, result = "timeout";
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
      break;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN)) break;
  }
  close(s);
  if (!got.empty() && got.back() == '\n') return got.substr(0, got.size() - 1);
  return result;
}

// Output of a command run inside a namespace ("" when it fails).
std::string Output(const std::string& netns, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", netns});
  SubprocessExecutor exec;
  auto out = exec.Run(argv, "");
  if (!out.ok()) return "";
  if (out->exit_code != 0) return "exit " + std::to_string(out->exit_code) + ": " + out->err;
  return out->out;
}

class NftIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nf_tables)";
    if (!RunCommand({"ip", "netns", "list"}).ok())
      GTEST_SKIP() << "iproute2 'ip netns' unavailable";
    std::random_device rd;
    const std::string tag = std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
    client_ = "kpx-nft-" + tag + "-c";
    node_ = "kpx-nft-" + tag + "-n";
    backend_ = "kpx-nft-" + tag + "-b";
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
        // forward hook (and its reject verdicts) instead of dying in the routing decision.
        {"ip", "-n", node_, "route", "add", "default", "via", kBackend1},
        {"ip", "netns", "exec", node_, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
    };
    for (const auto& cmd : setup)
      ASSERT_TRUE(RunCommand(cmd).ok()) << cmd[1] << " " << cmd[2] << " " << cmd[3];
    for (const char* ip : {kBackend1, kBackend2})
      servers_.push_back(StartServer(backend_, ip, 8080, 5353));
    builder_.Node([](NodeState& n) { n.addresses = {Ip(kNodeIp)}; });
    NewDataplane();
  }

  // A fresh dataplane, as after a kpx restart: its socket is opened inside the node namespace.
  void NewDataplane() {
    NftOptions o;
    o.families = {IpFamily::kIPv4};
    o.cluster_cidrs = {Net("10.99.2.0/24")};
    InNetns in(node_);
    auto handle = std::make_unique<NetlinkNftHandle>();
    Status st = handle->Open(o.max_batch_bytes);
    ASSERT_TRUE(st.ok()) << st.message();
    auto exec = std::make_shared<SubprocessExecutor>();
    dataplane_ =
        std::make_unique<NftDataplane>(o, std::move(handle), std::make_unique<ExecConntrack>(exec));
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

  Status Apply(bool full = false) {
    InNetns in(node_);  // conntrack runs as a subprocess of this thread
    return dataplane_->Apply(builder_.Build(), full);
  }

  void Web(const std::vector<EndpointInfo>& eps,
           const std::function<void(ServicePortInfo&)>& mutate = nullptr) {
    builder_.Add(Svc("default", "web", "", Protocol::kTCP, 80, "172.30.0.10",
                     [&](ServicePortInfo& s) {
                       s.node_port = 30080;
                       if (mutate) mutate(s);
                     }),
                 eps);
  }
  void Dns(const std::vector<EndpointInfo>& eps) {
    builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, "172.30.0.10"), eps);
  }
  // Which backends answered (the server part of "<server> <peer>").
  std::set<std::string> Answers(int type, const std::string& ip, int port, int n = 24) {
    std::set<std::string> out;
    for (const auto& r : Replies(type, ip, port, n)) out.insert(r.substr(0, r.find(' ')));
    return out;
  }
  std::set<std::string> Replies(int type, const std::string& ip, int port, int n = 24) {
    std::set<std::string> out;
    for (int i = 0; i < n; ++i) out.insert(Request(client_, type, ip, port));
    return out;
  }

  std::string client_, node_, backend_;
  std::vector<std::string> created_;
  std::vector<pid_t> servers_;
  std::unique_ptr<NftDataplane> dataplane_;
  StateBuilderForTest builder_{"node-a"};
};

TEST_F(NftIntegrationTest, ClusterIpNodePortEndpointChangesAndCleanup) {
  const std::set<std::string> both = {kBackend1, kBackend2};
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Dns({Ep(kBackend1, 5353), Ep(kBackend2, 5353)});
  builder_.Add(Svc("default", "empty", "", Protocol::kTCP, 80, "172.30.0.11"), {});
  builder_.Add(Svc("default", "empty", "dns", Protocol::kUDP, 53, "172.30.0.11"), {});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_THAT(Output(node_, {"nft", "list", "chain", "ip", "kpx", "services"}),
              ::testing::HasSubstr("chain services"));

  // ClusterIP balances over both backends, for TCP and UDP; NodePort works from outside.
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  EXPECT_EQ(Answers(SOCK_DGRAM, "172.30.0.10", 53), both);
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);

  // No endpoints: refused (ICMP port unreachable), not a black hole.
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.11", 80, std::chrono::milliseconds(5000)),
            "refused");
  EXPECT_EQ(Request(client_, SOCK_DGRAM, "172.30.0.11", 53), "refused");

  // Endpoint removed, then added back: partial syncs writing elements only.
  const uint64_t rules_before = dataplane_->counters().rules_written;
  Web({Ep(kBackend1, 8080)});
  Dns({Ep(kBackend1, 5353)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().partial_syncs, 1u);
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
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.11", 80, 1), std::set<std::string>{kBackend2});
  EXPECT_EQ(dataplane_->counters().rules_written, rules_before);

  // A full resync of an intact table writes nothing: what the kernel dumps equals what kpx
  // would write, rule for rule and element for element.
  const uint64_t messages = dataplane_->counters().messages;
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().messages, messages);
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);

  {
    InNetns in(node_);
    st = dataplane_->Cleanup();
  }
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Output(node_, {"nft", "list", "tables"}), "");  // nothing of kpx's is left
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.10", 80), "timeout");
}

EndpointInfo LocalEp(const std::string& ip, int port) {
  return Ep(ip, port, [](EndpointInfo& e) { e.node_name = "node-a"; });
}

TEST_F(NftIntegrationTest, TrafficPoliciesDropRejectAndMasquerade) {
  const std::set<std::string> both = {kBackend1, kBackend2};
  const std::string node_side = "10.99.2.1";  // the node's address towards the backends
  // Cluster policy everywhere: off-cluster clients are masqueraded (they are outside
  // --cluster-cidr), NodePorts too.
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  // externalTrafficPolicy Local with one local endpoint: the NodePort reaches only it, and it
  // sees the client's own address.
  builder_.Add(Svc("default", "api", "", Protocol::kTCP, 80, "172.30.0.20",
                   [](ServicePortInfo& s) {
                     s.node_port = 30081;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080), LocalEp(kBackend2, 8080)});
  // An external IP (routed to the node by the client's default route), Cluster policy.
  builder_.Add(Svc("default", "ext", "", Protocol::kTCP, 80, "172.30.0.21",
                   [](ServicePortInfo& s) { s.external_ips = {Ip("203.0.113.10")}; }),
               {Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  // externalTrafficPolicy Local without a local endpoint: external traffic is dropped, the
  // cluster IP still works.
  builder_.Add(Svc("default", "nolocal", "", Protocol::kTCP, 80, "172.30.0.22",
                   [](ServicePortInfo& s) {
                     s.node_port = 30082;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080)});
  // internalTrafficPolicy Local without a local endpoint: the cluster IP drops.
  builder_.Add(Svc("default", "itp", "", Protocol::kTCP, 80, "172.30.0.23",
                   [](ServicePortInfo& s) { s.internal_policy = TrafficPolicy::kLocal; }),
               {Ep(kBackend1, 8080)});
  // LoadBalancer IPs: one open, one whose loadBalancerSourceRanges include the client, one
  // whose ranges do not.
  builder_.Add(Svc("default", "lb", "", Protocol::kTCP, 80, "172.30.0.24",
                   [](ServicePortInfo& s) {
                     s.node_port = 30084;
                     s.load_balancer_ips = {Ip("203.0.113.20")};
                   }),
               {Ep(kBackend1, 8080)});
  builder_.Add(Svc("default", "lbfw", "", Protocol::kTCP, 80, "172.30.0.25",
                   [](ServicePortInfo& s) {
                     s.node_port = 30085;
                     s.load_balancer_ips = {Ip("203.0.113.21")};
                     s.load_balancer_source_ranges = {Net("10.99.1.0/24")};
                   }),
               {Ep(kBackend1, 8080)});
  builder_.Add(Svc("default", "lbdeny", "", Protocol::kTCP, 80, "172.30.0.26",
                   [](ServicePortInfo& s) {
                     s.node_port = 30086;
                     s.load_balancer_ips = {Ip("203.0.113.22")};
                     s.load_balancer_source_ranges = {Net("192.0.2.0/24"), Net("10.99.0.0/24")};
                   }),
               {Ep(kBackend1, 8080)});
  // Ranges only in the other family let nobody of this one in (README "Fail-closed source
  // ranges"; kube-proxy would leave it open).
  builder_.Add(Svc("default", "lbv6only", "", Protocol::kTCP, 80, "172.30.0.27",
                   [](ServicePortInfo& s) {
                     s.load_balancer_ips = {Ip("203.0.113.23")};
                     s.load_balancer_source_ranges = {Net("2001:db8::/64")};
                   }),
               {Ep(kBackend1, 8080)});
  const Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "203.0.113.20", 80, 2), std::set<std::string>{kBackend1});
  EXPECT_EQ(Answers(SOCK_STREAM, "203.0.113.21", 80, 2), std::set<std::string>{kBackend1});
  EXPECT_EQ(Request(client_, SOCK_STREAM, "203.0.113.22", 80, std::chrono::milliseconds(1500)),
            "timeout");
  EXPECT_EQ(Request(client_, SOCK_STREAM, "203.0.113.23", 80, std::chrono::milliseconds(1500)),
            "timeout");
  // NodePorts are not subject to the ranges.
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30086, 2), std::set<std::string>{kBackend1});

  EXPECT_EQ(Replies(SOCK_STREAM, "172.30.0.10", 80),
            (std::set<std::string>{std::string(kBackend1) + " " + node_side,
                                   std::string(kBackend2) + " " + node_side}));
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);
  EXPECT_EQ(Replies(SOCK_STREAM, kNodeIp, 30081),
            std::set<std::string>{std::string(kBackend2) + " " + kClientIp});
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.20", 80), both);
  EXPECT_EQ(Replies(SOCK_STREAM, "203.0.113.10", 80),
            (std::set<std::string>{std::string(kBackend1) + " " + node_side,
                                   std::string(kBackend2) + " " + node_side}));
  // Dropped, not refused: the client waits.
  EXPECT_EQ(Request(client_, SOCK_STREAM, kNodeIp, 30082, std::chrono::milliseconds(1500)),
            "timeout");
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.22", 80, 4), std::set<std::string>{kBackend1});
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.23", 80, std::chrono::milliseconds(1500)),
            "timeout");

  // The local endpoint goes away: now the api NodePort drops too; it comes back: answers.
  builder_.Add(Svc("default", "api", "", Protocol::kTCP, 80, "172.30.0.20",
                   [](ServicePortInfo& s) {
                     s.node_port = 30081;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Request(client_, SOCK_STREAM, kNodeIp, 30081, std::chrono::milliseconds(1500)),
            "timeout");
  builder_.Add(Svc("default", "api", "", Protocol::kTCP, 80, "172.30.0.20",
                   [](ServicePortInfo& s) {
                     s.node_port = 30081;
                     s.external_policy = TrafficPolicy::kLocal;
                   }),
               {Ep(kBackend1, 8080), LocalEp(kBackend1, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30081, 4), std::set<std::string>{kBackend1});
  // A full resync of all of this (range elements included) finds nothing to write.
  const uint64_t messages = dataplane_->counters().messages;
  ASSERT_TRUE(Apply(/*full=*/true).ok());
  EXPECT_EQ(dataplane_->counters().messages, messages);
}

TEST_F(NftIntegrationTest, RestartAdoptsTheTableWithoutFailingAConnection) {
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Dns({Ep(kBackend1, 5353)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread client([&] {
    while (!stop) {
      const std::string r = Request(client_, SOCK_STREAM, "172.30.0.10", 80);
      if (r.rfind(kBackend1, 0) == 0 || r.rfind(kBackend2, 0) == 0) {
        ++ok;
      } else {
        ++failed;
      }
    }
  });
  for (int restart = 0; restart < 3; ++restart) {
    while (ok < 20 * (restart + 1)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    NewDataplane();  // kpx restarted: a new process state, the kernel table untouched
    Dns({Ep(kBackend1, 5353)});
    st = Apply();
    ASSERT_TRUE(st.ok()) << st.message();
    // Adoption: the table already matched, nothing was written.
    EXPECT_EQ(dataplane_->counters().messages, 0u);
  }
  while (ok < 80) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  client.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(ok.load(), 80);
}

TEST_F(NftIntegrationTest, FullSyncRepairsWhatNftDeleted) {
  const std::set<std::string> both = {kBackend1, kBackend2};
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  // Someone removes the service's dispatch element and empties the NodePort path.
  EXPECT_EQ(Output(node_, {"nft", "delete", "element", "ip", "kpx", "service-ips",
                           "{ 172.30.0.10 . tcp . 80 }"}),
            "");
  EXPECT_EQ(Output(node_, {"nft", "flush", "chain", "ip", "kpx", "services"}), "");
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.10", 80, std::chrono::milliseconds(1000)),
            "timeout");
  // A partial sync trusts its cache; the (periodic) full sync compares with the kernel.
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);
}

TEST_F(NftIntegrationTest, DualStackServiceOverIpv6) {
  // IPv6 plan: client fd99:1::2 -- node fd99:1::1 | node fd99:2::1 -- backend fd99:2::2.
  const std::vector<std::vector<std::string>> setup = {
      {"ip", "-n", client_, "addr", "add", "fd99:1::2/64", "dev", "kc0", "nodad"},
      {"ip", "-n", node_, "addr", "add", "fd99:1::1/64", "dev", "kn0", "nodad"},
      {"ip", "-n", node_, "addr", "add", "fd99:2::1/64", "dev", "kn1", "nodad"},
      {"ip", "-n", backend_, "addr", "add", "fd99:2::2/64", "dev", "kb0", "nodad"},
      {"ip", "-n", client_, "-6", "route", "add", "default", "via", "fd99:1::1"},
      {"ip", "-n", backend_, "-6", "route", "add", "default", "via", "fd99:2::1"},
      {"ip", "-n", node_, "-6", "route", "add", "default", "via", "fd99:2::2"},
      {"ip", "netns", "exec", node_, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"},
  };
  for (const auto& cmd : setup) ASSERT_TRUE(RunCommand(cmd).ok()) << cmd[3] << " " << cmd[4];
  servers_.push_back(StartServer6(backend_, "fd99:2::2", 8080));
  {
    NftOptions o;
    o.cluster_cidrs = {Net("10.99.2.0/24"), Net("fd99:2::/64")};
    InNetns in(node_);
    auto handle = std::make_unique<NetlinkNftHandle>();
    ASSERT_TRUE(handle->Open(o.max_batch_bytes).ok());
    dataplane_ = std::make_unique<NftDataplane>(o, std::move(handle), nullptr);
  }
  builder_.Node([](NodeState& n) { n.addresses = {Ip(kNodeIp), Ip("fd99:1::1")}; });
  builder_.Add(Svc("default", "web", "", Protocol::kTCP, 80, "172.30.0.10,fd00:30::10",
                   [](ServicePortInfo& s) { s.node_port = 30080; }),
               {Ep(kBackend1, 8080), Ep("fd99:2::2", 8080)});
  builder_.Add(Svc("default", "empty6", "", Protocol::kTCP, 80, "fd00:30::11"), {});
  const Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_THAT(Output(node_, {"nft", "list", "chain", "ip6", "kpx", "services"}),
              ::testing::HasSubstr("chain services"));
  // The client is outside the IPv6 cluster CIDR: masqueraded to the node's address.
  std::string r;
  for (int i = 0; i < 20 && (r = Request6(client_, "fd00:30::10", 80)) == "timeout"; ++i) {
  }
  EXPECT_EQ(r, "fd99:2::2 fd99:2::1");
  EXPECT_EQ(Request6(client_, "fd99:1::1", 30080).substr(0, 9), "fd99:2::2");
  EXPECT_EQ(Request6(client_, "fd00:30::11", 80, std::chrono::milliseconds(5000)), "refused");
  // IPv4 still works beside it.
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80, 4), std::set<std::string>{kBackend1});
}

TEST_F(NftIntegrationTest, ClientIpAffinitySticksAndFollowsEndpointChanges) {
  auto sticky = [&](const std::vector<EndpointInfo>& eps) {
    builder_.Add(Svc("default", "sticky", "", Protocol::kTCP, 80, "172.30.0.30",
                     [](ServicePortInfo& s) {
                       s.node_port = 30090;
                       s.session_affinity_client_ip = true;
                       s.session_affinity_timeout_seconds = 30;
                     }),
                 eps);
  };
  sticky({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});  // no affinity: both answer
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  const std::set<std::string> first = Answers(SOCK_STREAM, "172.30.0.30", 80);
  ASSERT_EQ(first.size(), 1u);
  const std::string chosen = *first.begin();
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30090), first);  // NodePort: same service, same client
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80).size(), 2u);
  // (nft 1.0.6 cannot print the affinity chains' rules, see README; their names it can.)
  EXPECT_THAT(Output(node_, {"nft", "list", "chains", "ip"}),
              ::testing::HasSubstr("chain affinity-30"));

  // The chosen endpoint goes away: the client moves to the other one and stays there, also
  // when the first comes back.
  const std::string other = chosen == kBackend1 ? kBackend2 : kBackend1;
  sticky({Ep(other, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(dataplane_->counters().affinity_pruned, 1u);  // the client's entry for `chosen`
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.30", 80, 6), std::set<std::string>{other});
  sticky({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.30", 80), std::set<std::string>{other});

  // A full resync of an intact table (dynamic affinity entries included) writes nothing.
  const uint64_t messages = dataplane_->counters().messages;
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().messages, messages);

  // Affinity switched off: balanced again, and the timeout's chain is gone.
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  builder_.Add(Svc("default", "sticky", "", Protocol::kTCP, 80, "172.30.0.30"),
               {Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  ASSERT_TRUE(Apply().ok());
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.30", 80).size(), 2u);
  EXPECT_THAT(Output(node_, {"nft", "list", "chains", "ip"}),
              ::testing::Not(::testing::HasSubstr("affinity-30")));
}

// One UDP socket bound to a fixed source port in the client namespace: successive datagrams
// share one conntrack entry, so they keep reaching the endpoint it was DNATed to until kpx
// deletes the entry.
class UdpSession {
 public:
  UdpSession(const std::string& netns, int local_port) : netns_(netns) {
    InNetns in(netns_);
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(local_port);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~UdpSession() { close(fd_); }
  bool bound() const { return bound_; }
  std::string Ask(const std::string& ip, int port) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
    sendto(fd_, "hi", 2, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) return "timeout";
    char buf[256];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return "error";
    std::string r(buf, static_cast<size_t>(n));
    return r.substr(0, r.find(' '));
  }

 private:
  std::string netns_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST_F(NftIntegrationTest, UdpConntrackEntriesOfRemovedEndpointsAreDeleted) {
  Dns({Ep(kBackend1, 5353), Ep(kBackend2, 5353)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  UdpSession session(client_, 40053);
  ASSERT_TRUE(session.bound());
  const std::string first = session.Ask("172.30.0.10", 53);
  ASSERT_TRUE(first == kBackend1 || first == kBackend2) << first;
  EXPECT_EQ(session.Ask("172.30.0.10", 53), first);  // same flow, same endpoint
  const std::string other = first == kBackend1 ? kBackend2 : kBackend1;
  Dns({Ep(other, 5353)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GT(dataplane_->counters().conntrack_deletions, 0u);
  // Without the deletion the flow's entry would keep DNATing to the removed endpoint.
  EXPECT_EQ(session.Ask("172.30.0.10", 53), other);
}

TEST_F(NftIntegrationTest, SctpClusterIp) {
  const int probe = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
  if (probe < 0) GTEST_SKIP() << "SCTP unavailable in this kernel (module sctp not loadable)";
  close(probe);
  const pid_t server = fork();
  if (server == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int ns = open(("/run/netns/" + backend_).c_str(), O_RDONLY);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(1);
    const int l = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(9999);
    inet_pton(AF_INET, kBackend2, &a.sin_addr);
    if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 16) != 0) _exit(2);
    for (;;) {
      const int c = accept(l, nullptr, nullptr);
      if (c < 0) continue;
      const std::string r = std::string(kBackend2) + " sctp\n";
      (void)!write(c, r.data(), r.size());
      close(c);
    }
  }
  servers_.push_back(server);
  builder_.Add(Svc("default", "sig", "", Protocol::kSCTP, 9, "172.30.0.40"), {Ep(kBackend2, 9999)});
  const Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  std::string got;
  for (int attempt = 0; attempt < 20 && got.empty(); ++attempt) {
    InNetns in(client_);
    const int s = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    inet_pton(AF_INET, "172.30.0.40", &a.sin_addr);
    timeval tv{2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      char buf[128];
      const ssize_t n = recv(s, buf, sizeof(buf), 0);
      if (n > 0) got.assign(buf, static_cast<size_t>(n));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // server still starting
    }
    close(s);
  }
  EXPECT_EQ(got, std::string(kBackend2) + " sctp\n");
}

TEST_F(NftIntegrationTest, KernelRefusesATransactionAfterAConcurrentWrite) {
  InNetns in(node_);
  NetlinkNftHandle handle;
  ASSERT_TRUE(handle.Open(1 << 20).ok());
  auto genid = handle.Generation();
  ASSERT_TRUE(genid.ok()) << genid.status().message();
  // Another writer commits.
  ASSERT_TRUE(RunCommand({"nft", "add", "table", "ip", "someone-else"}).ok());
  NftBatch batch(100);
  batch.AddTable(IpFamily::kIPv4, "kpx-probe");
  batch.RequireGeneration(*genid);
  const Status st = handle.Commit(batch);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), ::testing::HasSubstr("changed since kpx read it"));
  // With the current generation it goes through.
  auto now = handle.Generation();
  ASSERT_TRUE(now.ok());
  EXPECT_NE(*now, *genid);
  batch.RequireGeneration(*now);
  EXPECT_TRUE(handle.Commit(batch).ok());
}

}  // namespace
}  // namespace kpx
