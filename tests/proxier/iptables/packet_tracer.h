#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/ip_address.h"
#include "base/protocol.h"
#include "proxier/netfilter/fake_iptables_runner.h"

namespace kpx::testing {

// The first packet of a connection, as the tracer sees it.
struct TracePacket {
  enum class Hook {
    kPrerouting,  // arrives from the network (or a pod's veth)
    kOutput,      // sent by a process on the node
  };
  Hook hook = Hook::kPrerouting;
  IpAddress src;
  Protocol protocol = Protocol::kTCP;
  IpAddress dst;
  int dport = 0;
  std::string in_interface = "eth0";  // for -i matches, kPrerouting only
};

// One way the packet can go. With random statistic matches there is one outcome per branch,
// weighted by its probability.
struct TraceOutcome {
  enum class Verdict { kAccept, kDrop, kReject };
  Verdict verdict = Verdict::kAccept;
  double probability = 1.0;
  std::optional<std::string> dnat;  // "ip:port" / "[ip]:port" after DNAT, if DNATed
  bool masqueraded = false;
  std::vector<std::string> chains;  // every chain entered, in order (for failure messages)
  std::string ToString() const;
};

// Walks the fake's nat and filter rules the way netfilter does for the matches kpx emits:
// PREROUTING -> routing -> INPUT or FORWARD -> POSTROUTING, or OUTPUT -> POSTROUTING; -s/-d/-p/-i,
// tcp/udp/sctp --dport, comment, addrtype LOCAL (the given local addresses plus loopback),
// statistic (every branch, or always-match), recent (--rcheck never matches: no history), mark,
// conntrack --ctstate (NEW, plus DNAT once DNATed); targets DNAT, MARK, MASQUERADE, REJECT, DROP,
// RETURN, ACCEPT and jumps. Anything else is reported as an error by throwing, so tests notice
// when the renderer starts emitting something the tracer does not model.
class PacketTracer {
 public:
  enum class Statistic { kAllBranches, kAlwaysMatch };

  PacketTracer(const FakeIptablesRunner& fake, IpFamily family, std::set<IpAddress> local_ips);
  std::vector<TraceOutcome> Trace(const TracePacket& packet,
                                  Statistic statistic = Statistic::kAllBranches) const;

  // Trace summarised: destination ("ip:port", or "DROP"/"REJECT"/"ACCEPT" when not DNATed, with
  // "+masq" appended when masqueraded) -> total probability.
  std::map<std::string, double> Summary(const TracePacket& packet) const;

 private:
  struct State;
  void RunTable(const std::string& table, const std::string& chain, State s,
                std::vector<State>& out, Statistic statistic) const;
  double Match(const RuleSpec& rule, const State& s) const;
  bool IsLocal(const IpAddress& ip) const;

  const FakeIptablesRunner& fake_;
  IpFamily family_;
  std::set<IpAddress> local_ips_;
};

}  // namespace kpx::testing
