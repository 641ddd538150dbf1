// Runs inside the qemu VM (tests/vm) as root, on Debian's kernel with IPVS: kpx's own IpvsDataplane
// with the real netlink, ipset and iptables-legacy adapters, and real TCP/UDP traffic from a
// client namespace to backend namespaces through the virtual servers it creates (SCTP too: the
// host kernel has none). The cases share one topology and run in order (one boot for all).
//
// Topology (host = the VM's root namespace, where kpx runs):
//   client 10.100.1.2 --veth-- 10.100.1.1 host 10.100.2.1 --veth-- 10.100.2.2 be1
//                                             10.100.3.1 --veth-- 10.100.3.2 be2
// be1 and be2 run kpx-echo-server on TCP and UDP 8080 (SCTP 8080 from case B3 on); replies name
// the backend and the peer.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proxier/ipvs/ipvs_dataplane.h"
#include "proxier/ipvs/netlink_ipvs_handle.h"
#include "proxier/ipvs/netlink_link_handle.h"
#include "proxier/netfilter/exec_iptables_runner.h"
#include "proxier/netfilter/libipset_ipset.h"
#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/netfilter/proc_sysctl.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "tests/support/in_netns.h"
#include "tests/support/state_builder.h"
#include "tests/support/traffic.h"
#include "tests/support/udp_session.h"

namespace kpx {
namespace {

using testing::Ep;
using ::testing::HasSubstr;
using testing::InNetns;
using testing::Ip;
using testing::LocalEp;
using testing::Net;
using ::testing::Not;
using testing::ReadLine;
using testing::SendAll;
using testing::StateBuilderForTest;
using testing::Svc;
using testing::TcpConnect;
using Clock = std::chrono::steady_clock;

// IP plan.
constexpr char kClientIp[] = "10.100.1.2";
constexpr char kNodeIp[] = "10.100.1.1";
constexpr char kBe1[] = "10.100.2.2";
constexpr char kBe2[] = "10.100.3.2";
constexpr char kWebVip[] = "10.96.0.10";     // TCP 80, NodePort 30080
constexpr char kDnsVip[] = "10.96.0.53";     // UDP 53
constexpr char kStickyVip[] = "10.96.0.20";  // TCP 80, ClientIP affinity
constexpr char kSctpVip[] = "10.96.0.40";    // SCTP 9, NodePort 30099 (case B3 only)

struct Cmd {
  int status = -1;
  std::string out;
};

// Test plumbing only (never in kpx itself): runs a command line with sh, output captured.
Cmd Sh(const std::string& command) {
  Cmd r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

void MustSh(const std::string& command) {
  const Cmd r = Sh(command);
  ASSERT_EQ(r.status, 0) << command << "\n" << r.out;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// kpx-probe from the client namespace; one reply line per attempt.
std::vector<std::string> Probe(const std::string& proto, const std::string& ip, int port,
                               int count) {
  const Cmd r =
      Sh("ip netns exec client " + Env("KPX_PROBE") + " " + proto + " " + ip + " " +
         std::to_string(port) + " --count " + std::to_string(count) + " --timeout-ms 2000");
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string BackendOf(const std::string& reply) { return reply.substr(0, reply.find(' ')); }
std::string PeerIpOf(const std::string& reply) {
  const auto sp = reply.find(' ');
  const auto colon = reply.rfind(':');
  return sp == std::string::npos ? "" : reply.substr(sp + 1, colon - sp - 1);
}

// A TCP connection opened from inside the client namespace and kept by the test.
class HeldConnection {
 public:
  HeldConnection(const std::string& ip, int port) {
    {
      InNetns in("client");
      fd_ = TcpConnect(ip, port);  // the socket stays in the client namespace
    }
    if (fd_ < 0) return;
    greeting_ = Line();
  }
  ~HeldConnection() { Close(); }
  bool ok() const { return fd_ >= 0 && !greeting_.empty(); }
  const std::string& greeting() const { return greeting_; }
  // Sends a line and returns the echo, proving the connection still carries data.
  std::string Echo(const std::string& line) {
    if (!SendAll(fd_, line + "\n")) return "";
    return Line();
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  // The next line, or "" when none came (ReadLine's "ERROR ..." texts are not lines).
  std::string Line() {
    std::string line = ReadLine(fd_);
    return line.rfind("ERROR", 0) == 0 ? "" : line;
  }
  int fd_ = -1;
  std::string greeting_;
};

IpvsSeams RealSeams() {
  IpvsSeams seams;
  auto ipvs = NetlinkIpvsHandle::Open(5000);
  auto link = NetlinkLinkHandle::Open();
  auto ipset = LibipsetIpset::Open();
  if (!ipvs.ok() || !link.ok() || !ipset.ok()) {
    ADD_FAILURE() << "netlink: " << ipvs.status().message() << " " << link.status().message() << " "
                  << ipset.status().message();
    return seams;
  }
  auto executor = std::make_shared<SubprocessExecutor>();
  seams.ipvs = std::move(ipvs).value();
  seams.link = std::move(link).value();
  seams.ipset = std::move(ipset).value();
  seams.iptables = std::make_shared<ExecIptablesRunner>(IptablesFlavor::kLegacy, executor);
  seams.sysctl = std::make_shared<ProcSysctl>();
  seams.conntrack = std::make_shared<NetlinkConntrack>();
  return seams;
}

IpvsOptions VmOptions() {
  IpvsOptions o;
  o.scheduler = "rr";
  o.timeouts = {900, 120, 300};
  o.iptables_backend = "legacy";
  o.node_port_addresses = {Net("10.100.1.0/24")};
  o.graceful_termination_bound = std::chrono::seconds(60);
  return o;
}

DesiredState State(StateBuilderForTest& b, bool with_be1) {
  std::vector<EndpointInfo> backends;
  if (with_be1) backends.push_back(Ep(kBe1, 8080));
  backends.push_back(Ep(kBe2, 8080));
  b.Add(Svc("default", "web", "", Protocol::kTCP, 80, kWebVip,
            [](ServicePortInfo& i) { i.node_port = 30080; }),
        backends);
  b.Add(Svc("default", "dns", "", Protocol::kUDP, 53, kDnsVip), {Ep(kBe1, 8080), Ep(kBe2, 8080)});
  b.Add(Svc("default", "sticky", "", Protocol::kTCP, 80, kStickyVip,
            [](ServicePortInfo& i) {
              i.session_affinity_client_ip = true;
              i.session_affinity_timeout_seconds = 300;
            }),
        {Ep(kBe1, 8080), Ep(kBe2, 8080)});
  return b.Build();
}

// The destinations of a virtual server, read back from the kernel with a separate handle.
std::map<std::string, IpvsDestination> KernelDests(const std::string& vip, uint16_t port,
                                                   Protocol p = Protocol::kTCP) {
  std::map<std::string, IpvsDestination> out;
  auto h = NetlinkIpvsHandle::Open(5000);
  if (!h.ok()) return out;
  auto dests = (*h)->ListDestinations({p, Ip(vip), port});
  if (!dests.ok()) return out;
  for (const auto& d : *dests) out[d.key.address.ToString()] = d;
  return out;
}

class IpvsVmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    const std::string echo = Env("KPX_ECHO_SERVER");
    const char* setup[] = {
        "sysctl -qw net.ipv4.ip_forward=1",
        "ip netns add client",
        "ip link add vc type veth peer name vc-peer",
        "ip link set vc-peer netns client",
        "ip addr add 10.100.1.1/24 dev vc",
        "ip link set vc up",
        "ip -n client addr add 10.100.1.2/24 dev vc-peer",
        "ip -n client link set vc-peer up",
        "ip -n client link set lo up",
        "ip -n client route add default via 10.100.1.1",
    };
    for (const char* c : setup) MustSh(c);
    for (int i = 1; i <= 2; ++i) {
      const std::string ns = "be" + std::to_string(i);
      const std::string net = "10.100." + std::to_string(i + 1);
      MustSh("ip netns add " + ns);
      MustSh("ip link add v" + ns + " type veth peer name v" + ns + "-peer");
      MustSh("ip link set v" + ns + "-peer netns " + ns);
      MustSh("ip addr add " + net + ".1/24 dev v" + ns);
      MustSh("ip link set v" + ns + " up");
      MustSh("ip -n " + ns + " addr add " + net + ".2/24 dev v" + ns + "-peer");
      MustSh("ip -n " + ns + " link set v" + ns + "-peer up");
      MustSh("ip -n " + ns + " link set lo up");
      MustSh("ip -n " + ns + " route add default via " + net + ".1");
      MustSh("ip netns exec " + ns + " " + echo + " " + ns +
             " --tcp 8080 --udp 8080 >/dev/null 2>&1 &");
    }
    // Backends answer directly before any test starts (bounded wait).
    for (const char* be : {kBe1, kBe2}) {
      bool up = false;
      for (int i = 0; i < 50 && !up; ++i) {
        up = Probe("tcp", be, 8080, 1).size() == 1 &&
             Probe("tcp", be, 8080, 1)[0].rfind("be", 0) == 0;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      ASSERT_TRUE(up) << "backend " << be << " not answering";
    }
  }

  static void TearDownTestSuite() {
    for (const char* ns : {"be1", "be2"}) {
      // Only the echo servers this suite started, by PID.
      const Cmd pids = Sh(std::string("ip netns pids ") + ns);
      std::istringstream in(pids.out);
      int pid;
      while (in >> pid) kill(pid, SIGTERM);
    }
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runs inside the tests/vm VM)";
  }

  static inline std::unique_ptr<IpvsDataplane> dp_;
  static inline StateBuilderForTest builder_{"node-1"};
  static inline std::map<std::string, double> timings_ms_;
};

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

TEST_F(IpvsVmTest, A_CreatesVirtualServers) {
  dp_ = std::make_unique<IpvsDataplane>(VmOptions(), RealSeams());
  const auto t = Clock::now();
  const Status s = dp_->Apply(State(builder_, true), false);
  timings_ms_["first apply (4 virtual servers)"] = MsSince(t);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(dp_->counters().last_plan_size, 4u + 8u + 3u);  // services, dests, addresses

  auto h = NetlinkIpvsHandle::Open();
  ASSERT_TRUE(h.ok());
  auto services = (*h)->ListServices();
  ASSERT_TRUE(services.ok());
  std::set<std::string> keys;
  for (const auto& svc : *services) keys.insert(svc.key.ToString() + " " + svc.scheduler);
  EXPECT_EQ(keys, (std::set<std::string>{"TCP/10.96.0.10:80 rr", "TCP/10.96.0.20:80 rr",
                                         "UDP/10.96.0.53:53 rr", "TCP/10.100.1.1:30080 rr"}));
  EXPECT_EQ(KernelDests(kWebVip, 80).size(), 2u);
  const Cmd addrs = Sh("ip -o addr show dev kube-ipvs0");
  EXPECT_THAT(addrs.out, HasSubstr("10.96.0.10/32"));
  EXPECT_THAT(addrs.out, HasSubstr("10.96.0.53/32"));
  EXPECT_EQ(Sh("cat /proc/sys/net/ipv4/vs/conntrack").out, "1\n");
  EXPECT_EQ(Sh("cat /proc/sys/net/ipv4/vs/conn_reuse_mode").out, "0\n");
  EXPECT_THAT(Sh("ipset list -n").out, HasSubstr("KUBE-CLUSTER-IP"));
  EXPECT_THAT(Sh("iptables-save -t nat").out, HasSubstr("-j KUBE-SERVICES"));
  std::printf("%s", Sh("ipvsadm -Ln").out.c_str());
}

TEST_F(IpvsVmTest, B_TcpAndUdpTrafficRoundRobin) {
  const auto tcp = Probe("tcp", kWebVip, 80, 4);
  ASSERT_EQ(tcp.size(), 4u);
  std::map<std::string, int> hits;
  for (const auto& r : tcp) {
    ++hits[BackendOf(r)];
    EXPECT_EQ(PeerIpOf(r), kClientIp) << "ClusterIP traffic keeps the client address: " << r;
  }
  EXPECT_EQ(hits, (std::map<std::string, int>{{"be1", 2}, {"be2", 2}}))
      << ::testing::PrintToString(tcp);

  const auto udp = Probe("udp", kDnsVip, 53, 4);
  ASSERT_EQ(udp.size(), 4u);
  std::map<std::string, int> uhits;
  for (const auto& r : udp) ++uhits[BackendOf(r)];
  EXPECT_EQ(uhits, (std::map<std::string, int>{{"be1", 2}, {"be2", 2}}))
      << ::testing::PrintToString(udp);
}

// A UDP flow's conntrack entry (IPVS with net.ipv4.vs.conntrack=1 rewrites its reply side to
// the real server) is deleted when that real server leaves the service. The flow itself may
// keep its IPVS connection entry until IPVS expires it; this case checks the conntrack side.
TEST_F(IpvsVmTest, B2_UdpConntrackEntryOfARemovedEndpointIsDeleted) {
  testing::UdpSession session("client", 40053);
  ASSERT_TRUE(session.bound());
  const std::string first = session.Ask(kDnsVip, 53);
  ASSERT_THAT(first, ::testing::AnyOf("be1", "be2"));
  const std::string gone_ip = first == "be1" ? kBe1 : kBe2;
  const std::string kept_ip = first == "be1" ? kBe2 : kBe1;
  const std::string list = "conntrack -L -p udp --orig-dst " + std::string(kDnsVip);
  // The flow's entry, its reply side rewritten to the real server.
  const std::string before = Sh(list).out;
  ASSERT_THAT(before, HasSubstr("sport=40053 dport=53"));
  ASSERT_THAT(before, HasSubstr("src=" + gone_ip));
  const uint64_t deletions = dp_->counters().conntrack_deletions;
  builder_.Add(Svc("default", "dns", "", Protocol::kUDP, 53, kDnsVip), {Ep(kept_ip, 8080)});
  ASSERT_TRUE(dp_->Apply(builder_.Build(), false).ok());
  EXPECT_GT(dp_->counters().conntrack_deletions, deletions);
  EXPECT_EQ(dp_->counters().conntrack_failures, 0u);
  EXPECT_THAT(Sh(list).out, Not(HasSubstr("src=" + gone_ip))) << Sh(list).out;
  // Back to both endpoints for the cases that follow.
  ASSERT_TRUE(dp_->Apply(State(builder_, true), false).ok());
}

// SCTP: a virtual server with protocol SCTP, real SCTP associations from the client balanced
// over both real servers, the client's address kept (ClusterIP) or masqueraded (NodePort). The
// build host's kernel has no SCTP; Debian's has the module (tests/vm loads it). The service
// goes again at the end, so the cases after this one see the state they expect.
TEST_F(IpvsVmTest, B3_SctpClusterIpAndNodePort) {
  const std::string echo = Env("KPX_ECHO_SERVER");
  for (const char* ns : {"be1", "be2"}) {
    MustSh(std::string("ip netns exec ") + ns + " " + echo + " " + ns +
           " --sctp 8080 >/dev/null 2>&1 &");
  }
  for (const char* be : {kBe1, kBe2}) {  // answering directly (bounded wait)
    bool up = false;
    for (int i = 0; i < 50 && !up; ++i) {
      const auto r = Probe("sctp", be, 8080, 1);
      up = r.size() == 1 && r[0].rfind("be", 0) == 0;
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(up) << "SCTP backend " << be << " not answering";
  }
  builder_.Add(Svc("default", "sig", "", Protocol::kSCTP, 9, kSctpVip,
                   [](ServicePortInfo& i) { i.node_port = 30099; }),
               {Ep(kBe1, 8080), Ep(kBe2, 8080)});
  ASSERT_TRUE(dp_->Apply(builder_.Build(), false).ok());
  EXPECT_EQ(KernelDests(kSctpVip, 9, Protocol::kSCTP).size(), 2u);
  // The NodePort's entry: the kernel's bitmap:port sets never match an SCTP packet.
  const std::string np_set = "ipset list KUBE-NODE-PORT-SCTP-HASH";
  EXPECT_THAT(Sh(np_set).out, HasSubstr("10.100.1.1,sctp:30099"));

  const auto cluster = Probe("sctp", kSctpVip, 9, 4);
  ASSERT_EQ(cluster.size(), 4u);
  std::map<std::string, int> hits;
  for (const auto& r : cluster) {
    ++hits[BackendOf(r)];
    EXPECT_EQ(PeerIpOf(r), kClientIp) << "ClusterIP traffic keeps the client address: " << r;
  }
  EXPECT_EQ(hits, (std::map<std::string, int>{{"be1", 2}, {"be2", 2}}))
      << ::testing::PrintToString(cluster);
  const auto node_port = Probe("sctp", kNodeIp, 30099, 2);
  ASSERT_EQ(node_port.size(), 2u);
  for (const auto& line : node_port) {
    EXPECT_THAT(BackendOf(line), ::testing::AnyOf("be1", "be2")) << line;
    EXPECT_THAT(PeerIpOf(line), ::testing::AnyOf("10.100.2.1", "10.100.3.1")) << line;
  }

  builder_.Remove(Svc("default", "sig", "", Protocol::kSCTP, 9, kSctpVip).name);
  ASSERT_TRUE(dp_->Apply(builder_.Build(), false).ok());
  EXPECT_TRUE(KernelDests(kSctpVip, 9, Protocol::kSCTP).empty());
  EXPECT_THAT(Sh(np_set).out, Not(HasSubstr("sctp:30099")));
}

TEST_F(IpvsVmTest, C_ClientIpAffinitySticks) {
  const auto r = Probe("tcp", kStickyVip, 80, 6);
  ASSERT_EQ(r.size(), 6u);
  for (const auto& line : r) EXPECT_EQ(BackendOf(line), BackendOf(r[0])) << line;
  EXPECT_THAT(BackendOf(r[0]), ::testing::AnyOf("be1", "be2"));
}

TEST_F(IpvsVmTest, D_NodePortIsMasqueraded) {
  const auto r = Probe("tcp", kNodeIp, 30080, 2);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& line : r) {
    EXPECT_THAT(BackendOf(line), ::testing::AnyOf("be1", "be2")) << line;
    // SNAT to the node's address on the backend's link, by KUBE-NODE-PORT + KUBE-POSTROUTING.
    EXPECT_THAT(PeerIpOf(line), ::testing::AnyOf("10.100.2.1", "10.100.3.1")) << line;
  }
}

TEST_F(IpvsVmTest, E_GracefulTermination) {
  // Hold a connection to be1 (rr alternates, so at most two attempts are needed).
  std::unique_ptr<HeldConnection> held;
  for (int i = 0; i < 4; ++i) {
    held = std::make_unique<HeldConnection>(kWebVip, 80);
    ASSERT_TRUE(held->ok());
    if (BackendOf(held->greeting()) == "be1") break;
  }
  ASSERT_EQ(BackendOf(held->greeting()), "be1");

  // be1 leaves the service: weight 0, still there while the connection lives.
  ASSERT_TRUE(dp_->Apply(State(builder_, false), false).ok());
  auto dests = KernelDests(kWebVip, 80);
  ASSERT_EQ(dests.count(kBe1), 1u);
  EXPECT_EQ(dests[kBe1].weight, 0);
  EXPECT_GE(dests[kBe1].active_connections, 1u);
  EXPECT_EQ(dests[kBe2].weight, 1);
  EXPECT_EQ(held->Echo("still-there"), "still-there");
  for (const auto& r : Probe("tcp", kWebVip, 80, 3)) EXPECT_EQ(BackendOf(r), "be2") << r;

  // Once the connection closes the destination is deleted (bounded wait).
  held->Close();
  const auto t = Clock::now();
  bool gone = false;
  while (!gone && Clock::now() - t < std::chrono::seconds(15)) {
    ASSERT_TRUE(dp_->ProcessGracefulTermination().ok());
    gone = KernelDests(kWebVip, 80).count(kBe1) == 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  timings_ms_["drained destination deleted after close"] = MsSince(t);
  EXPECT_TRUE(gone);
  EXPECT_EQ(dp_->graceful_termination().draining(), 0u);

  // And it comes back with weight 1 when wanted again.
  ASSERT_TRUE(dp_->Apply(State(builder_, true), false).ok());
  EXPECT_EQ(KernelDests(kWebVip, 80)[kBe1].weight, 1);
}

TEST_F(IpvsVmTest, F_RestartAdoptsWithoutDisturbingConnections) {
  HeldConnection held(kWebVip, 80);
  ASSERT_TRUE(held.ok());
  const std::string before = Sh("ipvsadm -Sn").out;

  dp_.reset();  // the old process is gone; its kernel state stays
  dp_ = std::make_unique<IpvsDataplane>(VmOptions(), RealSeams());
  const auto t = Clock::now();
  const Status s = dp_->Apply(State(builder_, true), false);
  timings_ms_["restart: first (full) apply, adopting"] = MsSince(t);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(dp_->counters().last_plan_size, 0u);
  EXPECT_EQ(dp_->counters().operations, 0u);
  EXPECT_EQ(Sh("ipvsadm -Sn").out, before);
  EXPECT_EQ(held.Echo("after-restart"), "after-restart");
  EXPECT_GE(KernelDests(kWebVip, 80)[BackendOf(held.greeting()) == "be1" ? kBe1 : kBe2]
                .active_connections,
            1u);
}

TEST_F(IpvsVmTest, G_ScaleAndSteadyState) {
  // 250 extra ClusterIP services with 2 endpoints each, then no-op and full re-syncs.
  for (int i = 0; i < 250; ++i) {
    const std::string vip = "10.97." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1);
    builder_.Add(Svc("default", "bulk-" + std::to_string(i), "", Protocol::kTCP, 80, vip),
                 {Ep(kBe1, 8080), Ep(kBe2, 8080)});
  }
  const DesiredState big = State(builder_, true);
  auto t = Clock::now();
  ASSERT_TRUE(dp_->Apply(big, false).ok());
  timings_ms_["add 250 services x 2 dests (partial)"] = MsSince(t);
  EXPECT_EQ(dp_->counters().last_plan_size, 250u * 4);
  t = Clock::now();
  ASSERT_TRUE(dp_->Apply(big, false).ok());
  timings_ms_["no-op partial sync, 254 services"] = MsSince(t);
  EXPECT_EQ(dp_->counters().last_plan_size, 0u);
  t = Clock::now();
  ASSERT_TRUE(dp_->Apply(big, true).ok());
  timings_ms_["no-op full sync (dump + ipset save + iptables), 254 services"] = MsSince(t);
  EXPECT_EQ(dp_->counters().last_plan_size, 0u);
  EXPECT_EQ(Probe("tcp", "10.97.1.50", 80, 1).size(), 1u);
}

TEST_F(IpvsVmTest, H_CleanupRemovesEverythingOfKpx) {
  // A virtual server that is not kpx's must survive.
  auto h = NetlinkIpvsHandle::Open();
  ASSERT_TRUE(h.ok());
  IpvsService foreign;
  foreign.key = {Protocol::kTCP, Ip("172.16.0.1"), 443};
  ASSERT_TRUE((*h)->AddService(foreign).ok());

  auto cleaner = std::make_unique<IpvsDataplane>(VmOptions(), RealSeams());
  const auto t = Clock::now();
  const Status s = cleaner->Cleanup();
  timings_ms_["cleanup, 254 services"] = MsSince(t);
  ASSERT_TRUE(s.ok()) << s.message();
  auto services = (*h)->ListServices();
  ASSERT_TRUE(services.ok());
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ((*services)[0].key, foreign.key);
  EXPECT_NE(Sh("ip link show kube-ipvs0").status, 0);
  EXPECT_THAT(Sh("ipset list -n").out, Not(HasSubstr("KUBE-")));
  EXPECT_THAT(Sh("iptables-save").out, Not(HasSubstr("KUBE-")));
  EXPECT_TRUE((*h)->DeleteService(foreign.key).ok());
  dp_.reset();

  std::printf("measured in the VM (TCG):\n");
  for (const auto& [what, ms] : timings_ms_) std::printf("  %-62s %8.1f ms\n", what.c_str(), ms);
}

}  // namespace
}  // namespace kpx
