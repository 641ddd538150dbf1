// The whole userspace dataplane on the real kernel: private network namespaces (client, node,
// backends), portal rules applied with iptables-nft inside the node namespace, kpx-echo-server
// backends, real TCP and UDP through ClusterIP and NodePort. Needs root; skips otherwise. The
// dataplane is built on the test's main thread after it switched into the node namespace (its
// worker threads and iptables children inherit it); clients run on threads switched into the
// client namespace. Never touches the host's namespace: every switch is verified.
#include <fcntl.h>
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
#include <future>
#include <map>
#include <random>

#include "proxier/netfilter/subprocess_executor.h"
#include "proxier/userspace/userspace_dataplane.h"
#include "proxier/userspace/userspace_dataplane_factory.h"
#include "tests/proxier/userspace/traffic.h"
#include "tests/support/state_builder.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::Greeting;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadLine;
using ::testing::StartsWith;
using testing::StateBuilderForTest;
using testing::Svc;

// IP plan: client 10.77.1.2 -- node 10.77.1.1 | node 10.77.2.1 -- backends 10.77.2.2-4 (one
// veth). ClusterIPs 10.96.0.10 (web, tcp 80 -> 8080, NodePort 30080) and 10.96.0.53 (dns, udp
// 53 -> 5353). 10.77.2.2:8081 has nothing listening (a dead endpoint).
constexpr char kClient[] = "10.77.1.2";
constexpr char kNode[] = "10.77.1.1";
constexpr char kWebIp[] = "10.96.0.10";
constexpr char kDnsIp[] = "10.96.0.53";
const char* const kBackends[] = {"10.77.2.2", "10.77.2.3", "10.77.2.4"};

// What a signal handler must undo if the test dies: only syscalls there, so prepared up front.
char g_netns_paths[3][128];
pid_t g_pids[8];

void EmergencyCleanup(int sig) {
  for (pid_t& p : g_pids) {
    if (p > 0) kill(p, SIGKILL);
  }
  for (auto& p : g_netns_paths) {
    if (p[0] != '\0') {
      umount2(p, MNT_DETACH);
      unlink(p);
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

Status RunCommand(const std::vector<std::string>& argv) {
  SubprocessExecutor exec;
  auto out = exec.Run(argv, "");
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) return Status::Error(argv[0] + " " + argv[1] + ": " + out->err);
  return Status::Ok();
}

std::string Output(const std::vector<std::string>& argv) {
  SubprocessExecutor exec;
  auto out = exec.Run(argv, "");
  return out.ok() ? out->out : "";
}

ino_t Inode(int fd) {
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
    const ino_t host = Inode(original_);
    if (setns(target, CLONE_NEWNET) != 0) std::abort();
    close(target);
    const int now = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (Inode(now) == host) std::abort();  // never run anything in the host namespace
    close(now);
  }
  ~InNetns() {
    if (setns(original_, CLONE_NEWNET) != 0) std::abort();
    close(original_);
  }

 private:
  int original_ = -1;
};

class UserspaceNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, iptables)";
    if (!RunCommand({"ip", "netns", "list"}).ok())
      GTEST_SKIP() << "iproute2 'ip netns' unavailable";
    if (!RunCommand({"iptables-nft", "--version"}).ok()) GTEST_SKIP() << "iptables-nft missing";
    std::random_device rd;
    const std::string tag = std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
    client_ = "kpx-us-" + tag + "-c";
    node_ = "kpx-us-" + tag + "-n";
    backend_ = "kpx-us-" + tag + "-b";
    const std::string names[3] = {client_, node_, backend_};
    for (int i = 0; i < 3; ++i) {
      std::snprintf(g_netns_paths[i], sizeof(g_netns_paths[i]), "/run/netns/%s", names[i].c_str());
    }
    for (int sig : {SIGINT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS}) signal(sig, EmergencyCleanup);
    for (const auto& n : names) {
      ASSERT_TRUE(RunCommand({"ip", "netns", "add", n}).ok()) << n;
      created_.push_back(n);
    }
    const std::vector<std::vector<std::string>> setup = {
        {"ip", "link", "add", "uc0", "netns", client_, "type", "veth", "peer", "name", "un0",
         "netns", node_},
        {"ip", "link", "add", "ub0", "netns", backend_, "type", "veth", "peer", "name", "un1",
         "netns", node_},
        {"ip", "-n", client_, "addr", "add", std::string(kClient) + "/24", "dev", "uc0"},
        {"ip", "-n", node_, "addr", "add", std::string(kNode) + "/24", "dev", "un0"},
        {"ip", "-n", node_, "addr", "add", "10.77.2.1/24", "dev", "un1"},
        {"ip", "-n", backend_, "addr", "add", "10.77.2.2/24", "dev", "ub0"},
        {"ip", "-n", backend_, "addr", "add", "10.77.2.3/24", "dev", "ub0"},
        {"ip", "-n", backend_, "addr", "add", "10.77.2.4/24", "dev", "ub0"},
        {"ip", "-n", client_, "link", "set", "uc0", "up"},
        {"ip", "-n", client_, "link", "set", "lo", "up"},
        {"ip", "-n", node_, "link", "set", "un0", "up"},
        {"ip", "-n", node_, "link", "set", "un1", "up"},
        {"ip", "-n", node_, "link", "set", "lo", "up"},
        {"ip", "-n", backend_, "link", "set", "ub0", "up"},
        {"ip", "-n", backend_, "link", "set", "lo", "up"},
        {"ip", "-n", client_, "route", "add", "default", "via", kNode},
        {"ip", "-n", backend_, "route", "add", "default", "via", "10.77.2.1"},
        // The node's own service traffic needs a route before OUTPUT's REDIRECT applies.
        {"ip", "-n", node_, "route", "add", "default", "via", kClient},
    };
    for (const auto& cmd : setup) {
      ASSERT_TRUE(RunCommand(cmd).ok())
          << cmd[1] << " " << cmd[2] << " " << cmd[3] << " " << cmd[4];
    }
    for (int i = 0; i < 3; ++i) {
      StartEchoServer("b" + std::to_string(i + 1), kBackends[i]);
    }
    // The node namespace for the rest of the test: the dataplane and its threads live there.
    in_node_ = std::make_unique<InNetns>(node_);
    UserspaceOptions options;
    options.families = {IpFamily::kIPv4};
    options.backend = IptablesBackend::kNft;
    options.workers = 2;
    options.udp_idle_timeout = std::chrono::milliseconds(1000);
    owned_ = NewUserspaceDataplane(options);
    dataplane_ = dynamic_cast<UserspaceDataplane*>(owned_.get());
    ASSERT_NE(dataplane_, nullptr);
    // Wait until every backend answers, so no test races the servers' start.
    for (const char* ip : kBackends) {
      bool up = false;
      for (int i = 0; i < 200 && !up; ++i) {
        up = Greeting(ip, 8080).rfind("ERROR", 0) != 0;
        if (!up) usleep(10000);
      }
      ASSERT_TRUE(up) << ip;
    }
  }

  void TearDown() override {
    owned_.reset();
    in_node_.reset();
    for (pid_t& pid : g_pids) {
      if (pid <= 0) continue;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = 0;
    }
    for (const auto& n : created_) (void)RunCommand({"ip", "netns", "del", n});
    for (auto& p : g_netns_paths) p[0] = '\0';
  }

  void StartEchoServer(const std::string& name, const std::string& ip) {
    const pid_t pid = fork();
    if (pid == 0) {
      const int ns = open(("/run/netns/" + backend_).c_str(), O_RDONLY);
      if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(1);
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execl(KPX_ECHO_SERVER, KPX_ECHO_SERVER, name.c_str(), "--bind", ip.c_str(), "--tcp", "8080",
            "--udp", "5353", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (pid_t& slot : g_pids) {
      if (slot <= 0) {
        slot = pid;
        break;
      }
    }
  }

  // Runs `f` on a thread inside the client namespace.
  template <typename F>
  auto FromClient(F f) {
    return std::async(std::launch::async,
                      [&] {
                        InNetns in(client_);
                        return f();
                      })
        .get();
  }

  void AddWeb(std::vector<EndpointInfo> endpoints,
              const std::function<void(ServicePortInfo&)>& mutate = nullptr) {
    builder_.Add(Svc("demo", "web", "", Protocol::kTCP, 80, kWebIp,
                     [&](ServicePortInfo& s) {
                       s.node_port = 30080;
                       if (mutate) mutate(s);
                     }),
                 endpoints);
  }
  void Sync() {
    Status st = dataplane_->Apply(builder_.Build(), false);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  static std::string Name(const std::string& greeting) {
    return greeting.substr(0, greeting.find(' '));
  }

  std::string client_, node_, backend_;
  std::vector<std::string> created_;
  std::unique_ptr<InNetns> in_node_;
  std::unique_ptr<Dataplane> owned_;
  UserspaceDataplane* dataplane_ = nullptr;
  StateBuilderForTest builder_;
};

std::vector<EndpointInfo> AllBackends() {
  return {Ep(kBackends[0], 8080), Ep(kBackends[1], 8080), Ep(kBackends[2], 8080)};
}

TEST_F(UserspaceNetnsTest, ClusterIpAndNodePortBalanceFromClientAndNode) {
  AddWeb(AllBackends());
  Sync();
  std::map<std::string, int> seen = FromClient([&] {
    std::map<std::string, int> s;
    for (int i = 0; i < 30; ++i) ++s[Name(Greeting(kWebIp, 80))];
    return s;
  });
  EXPECT_EQ(seen, (std::map<std::string, int>{{"b1", 10}, {"b2", 10}, {"b3", 10}}));
  // NodePort from outside, and both from the node itself (the OUTPUT portals).
  EXPECT_THAT(FromClient([&] { return Greeting(kNode, 30080); }), StartsWith("b"));
  EXPECT_THAT(Greeting(kWebIp, 80), StartsWith("b"));
  EXPECT_THAT(Greeting(kNode, 30080), StartsWith("b"));
  // Backends see the node's address: kpx connects on the client's behalf.
  EXPECT_THAT(FromClient([&] { return Greeting(kWebIp, 80); }), HasSubstr(" 10.77.2.1:"));
  const std::string nat = Output({"iptables-nft-save", "-t", "nat"});
  EXPECT_THAT(nat, HasSubstr("-A PREROUTING -m comment --comment \"kpx userspace service "
                             "portals\" -j KPX-PORTALS-CONTAINER"));
  EXPECT_THAT(nat, HasSubstr("-j REDIRECT --to-ports"));
}

TEST_F(UserspaceNetnsTest, ClientIpAffinity) {
  AddWeb(AllBackends(), [](ServicePortInfo& s) {
    s.session_affinity_client_ip = true;
    s.session_affinity_timeout_seconds = 60;
  });
  Sync();
  const std::vector<std::string> names = FromClient([&] {
    std::vector<std::string> v;
    for (int i = 0; i < 10; ++i) v.push_back(Name(Greeting(kWebIp, 80)));
    return v;
  });
  for (const auto& n : names) EXPECT_EQ(n, names[0]);
}

TEST_F(UserspaceNetnsTest, RetriesPastDeadEndpoint) {
  AddWeb({Ep(kBackends[0], 8081), Ep(kBackends[1], 8080)});
  Sync();
  const int ok = FromClient([&] {
    int n = 0;
    for (int i = 0; i < 10; ++i) n += Name(Greeting(kWebIp, 80)) == "b2";
    return n;
  });
  EXPECT_EQ(ok, 10);
  EXPECT_GE(dataplane_->counters().retries, 5u);
}

TEST_F(UserspaceNetnsTest, LargeTransferByteExactAndHalfClose) {
  AddWeb({Ep(kBackends[0], 8080)});
  Sync();
  const std::string payload = testing::Pattern(64 << 20, 3);
  const testing::RoundTrip r = FromClient([&] {
    testing::RoundTrip rt;
    const int fd = testing::TcpConnect(kWebIp, 80);
    if (fd < 0) return rt;
    if (ReadLine(fd).rfind("b1 ", 0) != 0) return rt;
    // The client half-closes after sending; the echo server sees EOF only through the relay,
    // echoes what is left and closes, which the client sees as EOF after the last byte.
    rt = testing::EchoRoundTrip(fd, payload, payload.size(), /*half_close=*/true);
    close(fd);
    return rt;
  });
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.received.size(), payload.size());
  EXPECT_EQ(testing::Fnv(r.received.data(), r.received.size()),
            testing::Fnv(payload.data(), payload.size()));
}

TEST_F(UserspaceNetnsTest, TwoHundredConcurrentClients) {
  AddWeb(AllBackends());
  Sync();
  const int ok = FromClient([&] {
    std::vector<int> fds;
    for (int i = 0; i < 200; ++i) fds.push_back(testing::TcpConnect(kWebIp, 80));
    std::vector<std::future<bool>> results;
    for (int i = 0; i < 200; ++i) {
      results.push_back(std::async(std::launch::async, [fd = fds[i], i] {
        if (fd < 0 || ReadLine(fd).rfind("ERROR", 0) == 0) return false;
        const std::string payload = testing::Pattern(32 << 10, i);
        const testing::RoundTrip rt = testing::EchoRoundTrip(fd, payload, payload.size());
        close(fd);
        return rt.ok && rt.received == payload;
      }));
    }
    int n = 0;
    for (auto& f : results) n += f.get();
    return n;
  });
  EXPECT_EQ(ok, 200);
}

TEST_F(UserspaceNetnsTest, UdpSessionsThroughClusterIp) {
  builder_.Add(Svc("demo", "dns", "", Protocol::kUDP, 53, kDnsIp),
               {Ep(kBackends[0], 5353), Ep(kBackends[1], 5353)});
  Sync();
  const std::vector<std::string> replies = FromClient([&] {
    std::vector<std::string> v;
    // A socket connected to the ClusterIP accepts only replies from it: getting one proves the
    // reply left kpx from the redirected address and conntrack mapped it back.
    const int a = testing::UdpConnect(kDnsIp, 53);
    const int b = testing::UdpConnect(kDnsIp, 53);
    v.push_back(testing::UdpRequest(a, "q1"));
    v.push_back(testing::UdpRequest(a, "q2"));
    v.push_back(testing::UdpRequest(b, "q3"));
    close(a);
    close(b);
    return v;
  });
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_THAT(replies[0], StartsWith("b"));
  EXPECT_EQ(Name(replies[1]), Name(replies[0]));  // same session, same endpoint
  EXPECT_THAT(replies[2], StartsWith("b"));
  EXPECT_NE(Name(replies[2]), Name(replies[0]));  // next session, next endpoint
  EXPECT_EQ(dataplane_->counters().udp_sessions, 2u);
}

TEST_F(UserspaceNetnsTest, EndpointChangeKeepsEstablishedConnection) {
  AddWeb({Ep(kBackends[0], 8080)});
  Sync();
  const std::string result = FromClient([&] {
    const int fd = testing::TcpConnect(kWebIp, 80);
    if (fd < 0) return std::string("connect failed");
    std::string out = Name(ReadLine(fd));
    // Inside the client thread the sync runs on another thread that is in the node namespace.
    std::async(std::launch::async, [&] {
      InNetns in(node_);
      AddWeb({Ep(kBackends[1], 8080)});
      Sync();
    }).get();
    out += " " + Name(Greeting(kWebIp, 80));
    testing::SendAll(fd, "still here\n");
    out += " " + ReadLine(fd);
    close(fd);
    return out;
  });
  EXPECT_EQ(result, "b1 b2 still here");
}

TEST_F(UserspaceNetnsTest, RemovedServiceAndCleanupLeaveNoRules) {
  AddWeb(AllBackends());
  Sync();
  ASSERT_THAT(Output({"iptables-nft-save", "-t", "nat"}), HasSubstr("10.96.0.10/32"));
  builder_.Remove(ServicePortName{"demo", "web", "", Protocol::kTCP});
  Sync();
  EXPECT_THAT(Output({"iptables-nft-save", "-t", "nat"}), Not(HasSubstr("10.96.0.10/32")));
  EXPECT_EQ(dataplane_->counters().frontends, 0u);
  ASSERT_TRUE(dataplane_->Cleanup().ok());
  EXPECT_THAT(Output({"iptables-nft-save", "-t", "nat"}), Not(HasSubstr("KPX-PORTALS")));
}

}  // namespace
}  // namespace kpx
