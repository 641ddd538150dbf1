#include "tests/proxier/iptables/packet_tracer.h"

#include <charconv>
#include <cstdlib>
#include <functional>
#include <stdexcept>

#include "base/cidr.h"

namespace kpx::testing {

struct PacketTracer::State {
  TracePacket packet;
  uint32_t mark = 0;
  bool dnat = false;
  bool masqueraded = false;
  double probability = 1.0;
  std::optional<TraceOutcome::Verdict> verdict;  // set when a table's traversal ended with one
  std::vector<std::string> chains;
};

namespace {

uint32_t ParseNumber(const std::string& s) {
  return static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 0));
}

bool AddressMatches(const std::string& spec, const IpAddress& ip) {
  std::optional<Cidr> c = spec.find('/') == std::string::npos
                              ? std::optional<Cidr>(Cidr::Host(*IpAddress::Parse(spec)))
                              : Cidr::Parse(spec);
  if (!c) throw std::runtime_error("tracer: bad address " + spec);
  return c->Contains(ip);
}

bool PortMatches(const std::string& spec, int port) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) return std::atoi(spec.c_str()) == port;
  return port >= std::atoi(spec.substr(0, colon).c_str()) &&
         port <= std::atoi(spec.substr(colon + 1).c_str());
}

std::string Endpoint(const IpAddress& ip, int port) {
  const std::string host =
      ip.family() == IpFamily::kIPv6 ? "[" + ip.ToString() + "]" : ip.ToString();
  return host + ":" + std::to_string(port);
}

}  // namespace

std::string TraceOutcome::ToString() const {
  std::string s = verdict == Verdict::kAccept ? "ACCEPT"
                  : verdict == Verdict::kDrop ? "DROP"
                                              : "REJECT";
  if (dnat) s += " dnat=" + *dnat;
  if (masqueraded) s += " masq";
  s += " p=" + std::to_string(probability) + " via";
  for (const auto& c : chains) s += " " + c;
  return s;
}

PacketTracer::PacketTracer(const FakeIptablesRunner& fake, IpFamily family,
                           std::set<IpAddress> local_ips)
    : fake_(fake), family_(family), local_ips_(std::move(local_ips)) {}

bool PacketTracer::IsLocal(const IpAddress& ip) const {
  return ip.IsLoopback() || local_ips_.contains(ip);
}

double PacketTracer::Match(const RuleSpec& r, const State& s) const {
  const TracePacket& p = s.packet;
  auto check = [](const std::optional<RuleField>& f, bool ok) { return f->negated ? !ok : ok; };
  if (r.source && !check(r.source, AddressMatches(r.source->value, p.src))) return 0;
  if (r.destination && !check(r.destination, AddressMatches(r.destination->value, p.dst))) return 0;
  if (r.protocol && !check(r.protocol, r.protocol->value == ProtocolLowerName(p.protocol)))
    return 0;
  if (r.in_interface) {
    if (p.hook != TracePacket::Hook::kPrerouting) return 0;
    const std::string& want = r.in_interface->value;
    const bool ok = want.ends_with('+')
                        ? p.in_interface.starts_with(want.substr(0, want.size() - 1))
                        : p.in_interface == want;
    if (!check(r.in_interface, ok)) return 0;
  }
  if (r.out_interface) throw std::runtime_error("tracer: -o not modelled");
  double probability = 1;
  for (const auto& m : r.matches) {
    if (m.module == "comment") continue;
    if (m.module == "tcp" || m.module == "udp" || m.module == "sctp") {
      if (m.module != ProtocolLowerName(p.protocol)) return 0;
      for (const auto& o : m.options) {
        if (o.name == "--dport" || o.name == "--destination-port") {
          if (PortMatches(o.value(), p.dport) == o.negated) return 0;
        } else {
          throw std::runtime_error("tracer: " + m.module + " " + o.name + " not modelled");
        }
      }
    } else if (m.module == "addrtype") {
      for (const auto& o : m.options) {
        if (o.value() != "LOCAL") throw std::runtime_error("tracer: addrtype " + o.value());
        const IpAddress& ip = o.name == "--dst-type" ? p.dst : p.src;
        if (IsLocal(ip) == o.negated) return 0;
      }
    } else if (m.module == "statistic") {
      const RuleOption* mode = m.Find("--mode");
      const RuleOption* prob = m.Find("--probability");
      if (!mode || mode->value() != "random" || !prob)
        throw std::runtime_error("tracer: statistic");
      probability *= std::strtod(prob->value().c_str(), nullptr);
    } else if (m.module == "recent") {
      if (m.Find("--rcheck") || m.Find("--update")) return 0;  // no history in a trace
    } else if (m.module == "mark") {
      const RuleOption* o = m.Find("--mark");
      const std::string& v = o->value();
      const auto slash = v.find('/');
      const uint32_t value = ParseNumber(v.substr(0, slash));
      const uint32_t mask =
          slash == std::string::npos ? 0xffffffffu : ParseNumber(v.substr(slash + 1));
      if (((s.mark & mask) == value) == o->negated) return 0;
    } else if (m.module == "conntrack") {
      const RuleOption* o = m.Find("--ctstate");
      if (!o) throw std::runtime_error("tracer: conntrack without --ctstate");
      bool any = false;
      size_t pos = 0;
      const std::string& list = o->value();
      while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        const std::string st = list.substr(pos, comma - pos);
        if (st == "NEW" || (st == "DNAT" && s.dnat)) any = true;
        pos = comma + 1;
      }
      if (any == o->negated) return 0;
    } else {
      throw std::runtime_error("tracer: match " + m.module + " not modelled");
    }
  }
  return probability;
}

void PacketTracer::RunTable(const std::string& table, const std::string& builtin, State s,
                            std::vector<State>& out, Statistic statistic) const {
  struct Frame {
    const FakeIptablesRunner::Chain* chain;
    std::string name;
    size_t next;
  };
  struct Exec {
    State s;
    std::vector<Frame> stack;
  };
  const auto* root = fake_.GetChain(family_, table, builtin);
  if (root == nullptr) {
    out.push_back(std::move(s));
    return;
  }
  std::vector<Exec> pending;
  s.chains.push_back(table + "/" + builtin);
  pending.push_back(Exec{std::move(s), {{root, builtin, 0}}});
  int steps = 0;
  while (!pending.empty()) {
    Exec e = std::move(pending.back());
    pending.pop_back();
    bool done = false;
    while (!done) {
      if (++steps > 1000000) throw std::runtime_error("tracer: loop");
      Frame& f = e.stack.back();
      if (f.next >= f.chain->rules.size()) {
        if (f.chain->builtin()) {
          if (f.chain->policy == "DROP") e.s.verdict = TraceOutcome::Verdict::kDrop;
          done = true;
        } else {
          e.stack.pop_back();
        }
        continue;
      }
      const FakeIptablesRunner::Rule& rule = f.chain->rules[f.next++];
      const double p = Match(rule.spec, e.s);
      if (p <= 0) continue;
      if (p < 1 && statistic == Statistic::kAllBranches) {
        Exec miss = e;
        miss.s.probability *= 1 - p;
        pending.push_back(std::move(miss));
        e.s.probability *= p;
      }
      const std::string& t = rule.spec.target;
      if (t.empty()) continue;
      if (t == "ACCEPT") {
        done = true;
      } else if (t == "DROP") {
        e.s.verdict = TraceOutcome::Verdict::kDrop;
        done = true;
      } else if (t == "REJECT") {
        e.s.verdict = TraceOutcome::Verdict::kReject;
        done = true;
      } else if (t == "RETURN") {
        if (f.chain->builtin()) {
          done = true;
        } else {
          e.stack.pop_back();
        }
      } else if (t == "MARK") {
        for (const auto& o : rule.spec.target_options) {
          if (o.name == "--or-mark") {
            e.s.mark |= ParseNumber(o.value());
          } else if (o.name == "--xor-mark") {
            e.s.mark ^= ParseNumber(o.value());
          } else if (o.name == "--set-xmark" || o.name == "--set-mark") {
            const auto slash = o.value().find('/');
            const uint32_t v = ParseNumber(o.value().substr(0, slash));
            const uint32_t m =
                slash == std::string::npos ? 0xffffffffu : ParseNumber(o.value().substr(slash + 1));
            e.s.mark = (e.s.mark & ~m) ^ v;
          } else {
            throw std::runtime_error("tracer: MARK " + o.name);
          }
        }
      } else if (t == "DNAT") {
        const std::string& to = rule.spec.FindTargetOption("--to-destination")->value();
        const auto colon = to.rfind(':');
        std::string host = to.substr(0, colon);
        if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
        e.s.packet.dst = *IpAddress::Parse(host);
        e.s.packet.dport = std::atoi(to.substr(colon + 1).c_str());
        e.s.dnat = true;
        done = true;
      } else if (t == "MASQUERADE") {
        e.s.masqueraded = true;
        done = true;
      } else {
        const auto* next = fake_.GetChain(family_, table, t);
        if (next == nullptr) throw std::runtime_error("tracer: jump to missing " + t);
        e.s.chains.push_back(t);
        if (rule.spec.is_goto) e.stack.pop_back();
        e.stack.push_back(Frame{next, t, 0});
      }
    }
    out.push_back(std::move(e.s));
  }
}

std::vector<TraceOutcome> PacketTracer::Trace(const TracePacket& packet,
                                              Statistic statistic) const {
  std::vector<State> states;
  State start;
  start.packet = packet;
  auto stage = [&](const std::string& table, const std::string& chain,
                   const std::function<bool(const State&)>& applies) {
    std::vector<State> next;
    for (auto& s : states) {
      if (s.verdict || !applies(s)) {
        next.push_back(std::move(s));
        continue;
      }
      RunTable(table, chain, std::move(s), next, statistic);
    }
    states = std::move(next);
  };
  auto always = [](const State&) { return true; };
  states.push_back(std::move(start));
  if (packet.hook == TracePacket::Hook::kPrerouting) {
    stage("nat", "PREROUTING", always);
    auto local = [&](const State& s) { return IsLocal(s.packet.dst); };
    auto forward = [&](const State& s) { return !IsLocal(s.packet.dst); };
    stage("filter", "INPUT", local);
    stage("filter", "FORWARD", forward);
    stage("nat", "POSTROUTING", forward);
  } else {
    stage("nat", "OUTPUT", always);
    stage("filter", "OUTPUT", always);
    stage("nat", "POSTROUTING", always);
  }
  std::vector<TraceOutcome> out;
  for (const auto& s : states) {
    TraceOutcome o;
    o.verdict = s.verdict.value_or(TraceOutcome::Verdict::kAccept);
    o.probability = s.probability;
    if (s.dnat) o.dnat = Endpoint(s.packet.dst, s.packet.dport);
    o.masqueraded = s.masqueraded;
    o.chains = s.chains;
    out.push_back(std::move(o));
  }
  return out;
}

std::map<std::string, double> PacketTracer::Summary(const TracePacket& packet) const {
  std::map<std::string, double> out;
  for (const auto& o : Trace(packet)) {
    std::string key;
    if (o.verdict == TraceOutcome::Verdict::kDrop) {
      key = "DROP";
    } else if (o.verdict == TraceOutcome::Verdict::kReject) {
      key = "REJECT";
    } else {
      key = o.dnat.value_or("ACCEPT");
    }
    if (o.masqueraded) key += "+masq";
    out[key] += o.probability;
  }
  return out;
}

}  // namespace kpx::testing
