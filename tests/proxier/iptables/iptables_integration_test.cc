// Real-kernel tests: three private network namespaces (client, node, backend) joined by veth
// pairs, kpx's iptables dataplane applied inside the node namespace through the real runners,
// real TCP and UDP traffic (SCTP where the kernel has it: the tests/vm VM). Needs root; skips
// with a message otherwise. Never touches the host's own namespace: every iptables call happens
// on a thread switched into the node namespace, and the switch is verified before anything runs.
#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "proxier/iptables/iptables_dataplane.h"
#include "proxier/netfilter/exec_iptables_runner.h"
#include "proxier/netfilter/getifaddrs_local_address_lister.h"
#include "proxier/netfilter/libiptc_iptables_runner.h"
#include "proxier/netfilter/netlink_conntrack.h"
#include "proxier/netfilter/subprocess_executor.h"
#include "tests/support/command.h"
#include "tests/support/exchange.h"
#include "tests/support/in_netns.h"
#include "tests/support/netns.h"
#include "tests/support/random_changes.h"
#include "tests/support/routed_topology.h"
#include "tests/support/state_builder.h"
#include "tests/support/traffic.h"
#include "tests/support/udp_session.h"

namespace kpx {
namespace {

using testing::Ep;
using testing::ExchangeOnce;
using testing::InNetns;
using testing::Ip;
using testing::Net;
using testing::RandomChanges;
using testing::RunCommand;
using testing::StateBuilderForTest;
using testing::Svc;
using testing::TestNetns;
using testing::Transport;
using testing::WaitForGreeting;

// IP plan: client 10.99.1.2 -- node 10.99.1.1 | node 10.99.2.1 -- backends 10.99.2.2, 10.99.2.3
// (both on one veth). Services 172.30.0.0/16, NodePort 30080.
constexpr char kClientIp[] = "10.99.1.2";
constexpr char kNodeIp[] = "10.99.1.1";
constexpr char kBackend1[] = "10.99.2.2";
constexpr char kBackend2[] = "10.99.2.3";

// One request from the client namespace: the answering backend (the echo servers are named by
// their address, "10.99.2.2"), or "refused", "timeout", or another error.
std::string Request(const std::string& netns, int type, const std::string& ip, int port,
                    std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
  InNetns in(netns);
  const std::string reply = ExchangeOnce(type == SOCK_STREAM ? Transport::kTcp : Transport::kUdp,
                                         ip, port, static_cast<int>(wait.count()));
  if (reply.rfind("ERROR ", 0) == 0) return reply.substr(6);
  return reply.substr(0, reply.find(' '));
}

std::string Normalize(std::string save) {
  save = std::regex_replace(save, std::regex("^#.*\n", std::regex::multiline), "");
  return std::regex_replace(save, std::regex("\\[[0-9]+:[0-9]+\\]"), "[0:0]");
}

// Normalize(), and independent of the order in which chains were created: per table, chain
// declarations sorted and rules grouped by chain (their order within a chain kept).
std::string Canonical(const std::string& save) {
  std::istringstream in(Normalize(save));
  std::string out, line, table;
  std::set<std::string> chains;
  std::map<std::string, std::vector<std::string>> rules;
  while (std::getline(in, line)) {
    if (line.starts_with("*")) {
      table = line;
    } else if (line.starts_with(":")) {
      chains.insert(line);
    } else if (line.starts_with("-A ")) {
      rules[line.substr(3, line.find(' ', 3) - 3)].push_back(line);
    } else if (line == "COMMIT") {
      out += table + "\n";
      for (const auto& c : chains) out += c + "\n";
      for (const auto& [chain, lines] : rules) {
        for (const auto& l : lines) out += l + "\n";
      }
      out += "COMMIT\n";
      chains.clear();
      rules.clear();
    }
  }
  return out;
}

class IptablesIntegrationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (const std::string why = TestNetns::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    netns_ = std::make_unique<TestNetns>("kpx-ipt");
    const Status st =
        BuildRoutedTopology(*netns_, {.dev_prefix = "k",
                                      .client_ip = kClientIp,
                                      .node_ip = kNodeIp,
                                      .node_backend_ip = "10.99.2.1",
                                      .backend_ips = {kBackend1, kBackend2},
                                      .node_default_via = kBackend1,  // like a node's default route
                                      .forwarding = true});
    ASSERT_TRUE(st.ok()) << st.message();
    client_ = netns_->Name("c");
    node_ = netns_->Name("n");
    for (const char* ip : {kBackend1, kBackend2}) {
      ASSERT_GT(
          netns_->Spawn("b", {KPX_ECHO_SERVER, ip, "--bind", ip, "--tcp", "8080", "--udp", "5353"}),
          0);
    }
    {
      InNetns in(node_);
      for (const char* ip : {kBackend1, kBackend2}) ASSERT_TRUE(WaitForGreeting(ip, 8080)) << ip;
    }

    Rebuild([](IptablesOptions&) {});
    builder_.Node([](NodeState& n) { n.addresses = {Ip(kNodeIp)}; });
    AddForeignRules(node_);
  }

  // Someone else's rules in every built-in chain kpx touches, so the tables exist before kpx
  // runs and "cleanup leaves them as they were" is a meaningful comparison.
  void AddForeignRules(const std::string& netns) {
    const std::string tool = GetParam() == "nft" ? "-nft" : "-legacy";
    InNetns in(netns);
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

  // A fresh dataplane (this backend's runner) with the fixture's options, then `mutate`.
  void Rebuild(const std::function<void(IptablesOptions&)>& mutate) {
    dataplane_ = MakeDataplane(mutate);
  }
  std::unique_ptr<IptablesDataplane> MakeDataplane(
      const std::function<void(IptablesOptions&)>& mutate) {
    IptablesOptions o;
    o.families = {IpFamily::kIPv4};
    o.cluster_cidrs = {Net("10.99.2.0/24")};
    mutate(o);
    auto exec = std::make_shared<SubprocessExecutor>();
    std::unique_ptr<IptablesRunner> runner;
    if (GetParam() == "nft")
      runner = std::make_unique<ExecIptablesRunner>(IptablesFlavor::kNft, exec);
    if (GetParam() == "legacy")
      runner = std::make_unique<ExecIptablesRunner>(IptablesFlavor::kLegacy, exec);
    if (GetParam() == "libiptc") runner = std::make_unique<LibiptcIptablesRunner>();
    return std::make_unique<IptablesDataplane>(o, std::move(runner),
                                               std::make_unique<NetlinkConntrack>());
  }

  void TearDown() override {
    dataplane_.reset();
    netns_.reset();
  }

  std::string SaveAll(const std::vector<std::string>& tables = {"nat", "filter"}) {
    return SaveAllIn(node_, tables);
  }
  std::string SaveAllIn(const std::string& netns, const std::vector<std::string>& tables) {
    InNetns in(netns);
    const std::string tool = GetParam() == "nft" ? "-nft-save" : "-legacy-save";
    std::string all;
    SubprocessExecutor exec;
    for (const char* fam : {"iptables", "ip6tables"}) {
      for (const std::string& table : tables) {
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

  std::unique_ptr<TestNetns> netns_;
  std::string client_, node_;
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

  // No endpoints: refused, not a black hole (which would answer "timeout").
  // TCP: with veth, the ICMP for the first SYN arrives while connect() still holds the socket
  // lock and only counts as a soft error, so the refusal lands on a retransmission (1 s, 3 s):
  // the 5 s budget leaves room for that, not for the ~2 min a black hole would take.
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.11", 80, std::chrono::milliseconds(5000)),
            "refused");
  EXPECT_EQ(Request(client_, SOCK_DGRAM, "172.30.0.11", 53), "refused");

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

// UDP has no teardown: a client that keeps its source port keeps its conntrack entry, which
// keeps DNATing to the endpoint it was made for. When that endpoint goes, the dataplane deletes
// the entry (in process, over ctnetlink), so the next datagram is balanced afresh.
TEST_P(IptablesIntegrationTest, UdpConntrackEntriesOfRemovedEndpointsAreDeleted) {
  Dns({Ep(kBackend1, 5353), Ep(kBackend2, 5353)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  testing::UdpSession session(client_, 40053);
  ASSERT_TRUE(session.bound());
  const std::string first = session.Ask("172.30.0.10", 53);
  ASSERT_TRUE(first == kBackend1 || first == kBackend2) << first;
  EXPECT_EQ(session.Ask("172.30.0.10", 53), first);  // same flow, same endpoint
  const std::string other = first == kBackend1 ? kBackend2 : kBackend1;
  Dns({Ep(other, 5353)});
  st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GT(dataplane_->counters().conntrack_deletions, 0u);
  EXPECT_EQ(dataplane_->counters().conntrack_failures, 0u);
  // Without the deletion the flow's entry would keep DNATing to the removed endpoint.
  EXPECT_EQ(session.Ask("172.30.0.10", 53), other);
}

// A firewall reload flushes and deletes every chain of nat and mangle: the service stops
// working, and the next periodic resync (a full request, partial while the canary lives) sees
// KUBE-PROXY-CANARY gone and rewrites everything.
TEST_P(IptablesIntegrationTest, FlushedTablesAreRepairedOnTheNextPeriodicResync) {
  const std::set<std::string> both = {kBackend1, kBackend2};
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  // A periodic resync with the canary in place is partial and writes nothing.
  const uint64_t full_syncs = dataplane_->counters().full_syncs;
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().full_syncs, full_syncs);
  EXPECT_EQ(dataplane_->counters().skipped_syncs, 1u);
  {
    InNetns in(node_);
    const std::string bin = GetParam() == "nft" ? "iptables-nft" : "iptables-legacy";
    for (const char* table : {"nat", "mangle"}) {
      for (const char* op : {"-F", "-X"}) {
        ASSERT_TRUE(RunCommand({bin, "-w", "5", "-t", table, op}).ok()) << table << op;
      }
    }
  }
  EXPECT_EQ(Request(client_, SOCK_STREAM, "172.30.0.10", 80), "timeout");
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(dataplane_->counters().canary_missing, 1u);
  EXPECT_EQ(dataplane_->counters().full_syncs, full_syncs + 1);
  EXPECT_EQ(Answers(SOCK_STREAM, "172.30.0.10", 80), both);
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);
}

// The differential test on the real kernel: a random sequence of changes (services added and
// removed, endpoints, traffic policies, affinity, NodePorts, load balancers, both families)
// applied as incremental syncs leaves nat, filter and mangle exactly as a fresh full sync of the
// same state leaves a second namespace (same foreign rules), compared as normalized
// iptables-save output at several points of the sequence.
TEST_P(IptablesIntegrationTest, IncrementalSyncsEqualAFreshFullSyncInTheKernel) {
  ASSERT_TRUE(netns_->Add("f").ok());
  const std::string fresh_ns = netns_->Name("f");
  AddForeignRules(fresh_ns);
  const auto dual_stack = [](IptablesOptions& o) {
    o.families = {IpFamily::kIPv4, IpFamily::kIPv6};
    o.cluster_cidrs = {Net("10.0.0.0/8"), Net("fd00:10::/64")};
  };
  Rebuild(dual_stack);
  RandomChanges::SetUpNode(builder_);
  RandomChanges changes(/*seed=*/14, /*pool_size=*/10);
  const std::vector<std::string> tables = {"nat", "filter", "mangle"};
  std::string history;
  uint64_t compared = 0;
  for (int step = 1; step <= 48; ++step) {
    history += changes.Step(builder_) + "; ";
    if (step % 2 != 0) continue;
    const DesiredState state = builder_.Build();
    {
      InNetns in(node_);
      const Status st = dataplane_->Apply(state, /*full=*/false);
      ASSERT_TRUE(st.ok()) << st.message() << " after " << history;
    }
    if (step % 12 != 0) continue;
    auto fresh = MakeDataplane(dual_stack);
    {
      InNetns in(fresh_ns);
      Status st = fresh->Cleanup();  // the previous comparison's rules
      ASSERT_TRUE(st.ok()) << st.message();
      st = fresh->Apply(state, /*full=*/true);
      ASSERT_TRUE(st.ok()) << st.message();
    }
    const std::string expected = Canonical(SaveAllIn(fresh_ns, tables));
    ASSERT_NE(expected.find("KUBE-SEP-"), std::string::npos);  // the comparison has content
    ASSERT_EQ(Canonical(SaveAllIn(node_, tables)), expected) << "after " << history;
    ++compared;
  }
  EXPECT_EQ(compared, 4u);
  EXPECT_GT(dataplane_->counters().partial_syncs, 10u);
}

// --nodeport-addresses against the node namespace's own interfaces (listed with getifaddrs
// inside it): "primary" is the Node object's InternalIP only, a CIDR picks its interface
// addresses; the other address of the same interface does not answer.
TEST_P(IptablesIntegrationTest, NodePortAddressesPrimaryAndCidrOnTheHostsInterfaces) {
  constexpr char kSecondary[] = "10.99.1.5";
  ASSERT_TRUE(
      RunCommand({"ip", "-n", node_, "addr", "add", std::string(kSecondary) + "/24", "dev", "kn0"})
          .ok());
  auto lister = std::make_shared<GetifaddrsLocalAddressLister>();
  auto host_addresses = [lister] {
    auto listed = lister->List();
    return listed.ok() ? *listed : std::vector<IpAddress>();
  };
  const std::set<std::string> both = {kBackend1, kBackend2};
  auto not_a_backend = [&](const std::string& ip) {
    const std::string got = Request(client_, SOCK_STREAM, ip, 30080);
    return both.count(got) == 0;
  };

  Rebuild([&](IptablesOptions& o) {
    o.node_port_primary = true;
    o.local_address_lister = host_addresses;
  });
  Web({Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, kNodeIp, 30080), both);
  EXPECT_TRUE(not_a_backend(kSecondary));
  {
    InNetns in(node_);
    ASSERT_TRUE(dataplane_->Cleanup().ok());
  }

  Rebuild([&](IptablesOptions& o) {
    o.node_port_addresses = {Net("10.99.1.5/32")};
    o.local_address_lister = host_addresses;
  });
  st = Apply(/*full=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Answers(SOCK_STREAM, kSecondary, 30080), both);
  EXPECT_TRUE(not_a_backend(kNodeIp));
  {
    InNetns in(node_);
    ASSERT_TRUE(dataplane_->Cleanup().ok());
  }
}

// SCTP through a ClusterIP and a NodePort (-p sctp -m sctp --dport, libiptc's own sctp match),
// balanced over both endpoints and masqueraded (the client is outside the cluster CIDR). The
// build host's kernel has no SCTP: there this skips, and the ipt_sctp_vm CTest runs it in the
// tests/vm VM (Debian's kernel, module sctp), where KPX_REQUIRE_SCTP=1 makes a missing SCTP a
// failure.
TEST_P(IptablesIntegrationTest, SctpClusterIpAndNodePort) {
  if (const std::string why = testing::SctpUnavailable(); !why.empty()) {
    if (testing::SctpRequired()) FAIL() << why << " (KPX_REQUIRE_SCTP=1)";
    GTEST_SKIP() << why;
  }
  for (const char* ip : {kBackend1, kBackend2}) {
    ASSERT_GT(netns_->Spawn("b", {KPX_ECHO_SERVER, ip, "--bind", ip, "--sctp", "8080"}), 0);
  }
  // "<backend> <peer ip>" for one association from `netns`, or "ERROR <reason>".
  const auto ask = [](const std::string& netns, const std::string& ip, int port) {
    InNetns in(netns);
    const std::string line = ExchangeOnce(Transport::kSctp, ip, port, 2000);
    if (line.rfind("ERROR", 0) == 0) return line;
    const size_t sp = line.find(' ');
    const std::string peer = line.substr(sp + 1);
    return line.substr(0, sp) + " " + peer.substr(0, peer.rfind(':'));
  };
  for (const char* ip : {kBackend1, kBackend2}) {  // the servers are up (bounded wait)
    std::string direct;
    for (int i = 0; i < 40 && direct.rfind(ip, 0) != 0; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      direct = ask(node_, ip, 8080);
    }
    ASSERT_EQ(direct, std::string(ip) + " 10.99.2.1") << "SCTP server " << ip;
  }
  const auto answers = [&](const std::string& ip, int port) {
    std::set<std::string> out;
    for (int i = 0; i < 16; ++i) out.insert(ask(client_, ip, port));
    return out;
  };
  builder_.Add(Svc("default", "sig", "", Protocol::kSCTP, 9, "172.30.0.40",
                   [](ServicePortInfo& s) { s.node_port = 30099; }),
               {Ep(kBackend1, 8080), Ep(kBackend2, 8080)});
  const Status st = Apply();
  ASSERT_TRUE(st.ok()) << st.message();
  const std::string node_side = "10.99.2.1";  // the node's address towards the backends
  const std::set<std::string> both = {std::string(kBackend1) + " " + node_side,
                                      std::string(kBackend2) + " " + node_side};
  EXPECT_EQ(answers("172.30.0.40", 9), both);
  EXPECT_EQ(answers(kNodeIp, 30099), both);
  // The service is SCTP only: TCP to its port is not DNATed to the backends' TCP servers on
  // the same port number (they would answer in milliseconds; the wait is kept short).
  const std::string tcp =
      Request(client_, SOCK_STREAM, "172.30.0.40", 9, std::chrono::milliseconds(1000));
  EXPECT_NE(tcp, kBackend1);
  EXPECT_NE(tcp, kBackend2);
}

INSTANTIATE_TEST_SUITE_P(Backends, IptablesIntegrationTest,
                         ::testing::Values("nft", "legacy", "libiptc"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kpx
