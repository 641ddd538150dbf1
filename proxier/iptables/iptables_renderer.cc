#include "proxier/iptables/iptables_renderer.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "proxier/iptables/chain_names.h"
#include "proxier/iptables/prefix_dispatch.h"
#include "proxier/netfilter/restore_text.h"

namespace kpx {

namespace {

constexpr std::string_view kNodePortsComment =
    "kubernetes service nodeports; NOTE: this must be the last rule in this chain";

// Collects chains in first-use order and their rules.
class ChainList {
 public:
  RenderedChain& Get(const std::string& name, const std::optional<ServicePortName>& owner) {
    auto it = index_.find(name);
    if (it != index_.end()) return chains_[it->second];
    index_.emplace(name, chains_.size());
    chains_.push_back(RenderedChain{name, {}, owner});
    return chains_.back();
  }
  void Add(const std::string& chain, std::string args) {
    Get(chain, std::nullopt).rules.push_back("-A " + chain + " " + args);
  }
  std::vector<RenderedChain> Take() { return std::move(chains_); }

 private:
  std::vector<RenderedChain> chains_;
  std::map<std::string, size_t> index_;
};

// Builds the argument text of one rule; comments are quoted only when they need it.
class Args {
 public:
  Args& Comment(std::string_view text) {
    return Raw("-m comment --comment " + RestoreText::Quote(text));
  }
  Args& Proto(std::string_view p) { return Raw("-m " + std::string(p) + " -p " + std::string(p)); }
  Args& Raw(std::string_view text) {
    if (!s_.empty()) s_.push_back(' ');
    s_ += text;
    return *this;
  }
  Args& Jump(std::string_view target) { return Raw("-j " + std::string(target)); }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

std::string Probability(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0.10f", 1.0 / static_cast<double>(n));
  return buf;
}

template <typename T>
std::vector<T> OfFamily(const std::vector<T>& in, IpFamily family) {
  std::vector<T> out;
  for (const auto& x : in) {
    if (x.family() == family) out.push_back(x);
  }
  return out;
}

// kube-proxy's LocalTrafficDetector: argument text matching pod (local) traffic and its negation.
struct LocalDetector {
  std::string if_local;
  std::string if_not_local;
  bool implemented() const { return !if_local.empty(); }
};

LocalDetector MakeDetector(const IptablesOptions& o, const DesiredState& state, IpFamily family) {
  LocalDetector d;
  auto from_cidrs = [&](const std::vector<Cidr>& cidrs) {
    // One CIDR per family, as kube-proxy: "! -s a ! -s b" cannot be said in one rule.
    for (const auto& c : cidrs) {
      if (c.family() != family) continue;
      d.if_local = "-s " + c.ToString();
      d.if_not_local = "! -s " + c.ToString();
      return;
    }
  };
  switch (o.local_detect) {
    case LocalDetectMode::kNone:
      break;
    case LocalDetectMode::kClusterCidr:
      from_cidrs(o.cluster_cidrs);
      break;
    case LocalDetectMode::kNodeCidr:
      from_cidrs(state.node.pod_cidrs);
      break;
    case LocalDetectMode::kBridgeInterface:
      if (!o.local_interface.empty()) {
        d.if_local = "-i " + o.local_interface;
        d.if_not_local = "! -i " + o.local_interface;
      }
      break;
    case LocalDetectMode::kInterfaceNamePrefix:
      if (!o.local_interface.empty()) {
        d.if_local = "-i " + o.local_interface + "+";
        d.if_not_local = "! -i " + o.local_interface + "+";
      }
      break;
  }
  return d;
}

class FamilyRenderer {
 public:
  FamilyRenderer(const IptablesOptions& o, const DesiredState& state, IpFamily family,
                 const std::vector<IpAddress>& local_addresses)
      : o_(o),
        state_(state),
        family_(family),
        local_addresses_(local_addresses),
        mark_(MasqueradeMark(o.masquerade_bit)),
        detector_(MakeDetector(o, state, family)) {
    for (const auto& a : state.node.addresses) {
      if (a.family() == family) {
        node_ip_ = a;
        break;
      }
    }
  }

  IptablesRuleset Render() {
    TopLevel();
    for (const auto& [name, port] : state_.services) Service(*port);
    Finish();
    return IptablesRuleset(family_, RenderedTable{"filter", filter_.Take()},
                           RenderedTable{"nat", nat_.Take()});
  }

 private:
  static std::string S(std::string_view v) { return std::string(v); }

  void TopLevel() {
    const bool firewall = family_ == IpFamily::kIPv4 && o_.localhost_nodeports;
    for (auto c : {kServicesChain, kExternalServicesChain, kForwardChain, kNodePortsChain,
                   kProxyFirewallChain}) {
      filter_.Get(S(c), std::nullopt);
    }
    if (firewall) filter_.Get(S(kFirewallChain), std::nullopt);
    for (auto c : {kServicesChain, kNodePortsChain, kPostroutingChain, kMarkMasqChain}) {
      nat_.Get(S(c), std::nullopt);
    }
    const std::string mark_mask = mark_ + "/" + mark_;
    nat_.Add(S(kPostroutingChain),
             Args().Raw("-m mark ! --mark " + mark_mask).Jump("RETURN").Take());
    // Clear the mark so a packet that goes through the stack again is not masqueraded twice.
    nat_.Add(S(kPostroutingChain), Args().Jump("MARK").Raw("--xor-mark " + mark_).Take());
    Args masq;
    masq.Comment("kubernetes service traffic requiring SNAT").Jump("MASQUERADE");
    if (o_.masquerade_random_fully) masq.Raw("--random-fully");
    nat_.Add(S(kPostroutingChain), masq.Take());
    nat_.Add(S(kMarkMasqChain), Args().Jump("MARK").Raw("--or-mark " + mark_).Take());
    if (firewall) {
      // route_localnet makes 127/8 routable; without this guard other hosts could reach
      // localhost-bound services through it (kubernetes#90259).
      filter_.Add(S(kFirewallChain), Args()
                                         .Comment("block incoming localnet connections")
                                         .Raw("-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! "
                                              "--ctstate RELATED,ESTABLISHED,DNAT")
                                         .Jump("DROP")
                                         .Take());
    }
  }

  // What one service port's rules depend on, in one family, derived once before any rule is
  // written (kube-proxy's syncProxyRules derives the same facts in the same way).
  struct ServicePlan {
    ServicePlan(const ServicePortInfo& i, const EndpointSelection& s) : info(i), sel(s) {}
    const ServicePortInfo& info;
    const EndpointSelection& sel;
    std::string name;  // "ns/svc:port" for comments
    std::string proto;
    std::string port;
    IpAddress cluster_ip;
    std::vector<IpAddress> external_ips;
    std::vector<IpAddress> lb_ips;
    std::vector<Cidr> source_ranges;
    bool external_local = false;
    bool has_endpoints = false;
    bool has_internal = false;  // usable endpoints for the internal traffic policy
    bool has_external = false;  // usable endpoints for the external traffic policy
    bool uses_cluster_chain = false;
    bool uses_local_chain = false;
    bool uses_ext_chain = false;
    bool uses_fw_chain = false;
    std::string svc_chain, svl_chain, ext_chain, fw_chain;
    std::string internal_chain;         // SVC or SVL, by internalTrafficPolicy
    std::string external_policy_chain;  // SVC or SVL, by externalTrafficPolicy
    std::string lb_chain;               // FW when source ranges apply, else EXT
    // Filter-table verdicts when the policy leaves no endpoint: REJECT (none at all) or DROP.
    std::string internal_filter_target, internal_filter_comment;
    std::string external_filter_target, external_filter_comment;

    std::string DstPort(const std::string& ip) const { return "-d " + ip + " --dport " + port; }
  };

  std::optional<ServicePlan> Plan(const ServicePortState& port) const {
    const ServicePortInfo& info = port.info;
    const auto& cluster_ip = info.ClusterIp(family_);
    if (!cluster_ip) return std::nullopt;  // single-stack service of the other family
    ServicePlan p(info, port.For(family_));
    const ServicePortName& spn = info.name;
    p.name = spn.ToString();
    p.proto = S(ProtocolLowerName(info.protocol));
    p.port = std::to_string(info.port);
    p.cluster_ip = *cluster_ip;
    p.external_ips = OfFamily(info.external_ips, family_);
    p.lb_ips = OfFamily(info.load_balancer_ips, family_);
    p.source_ranges = OfFamily(info.load_balancer_source_ranges, family_);
    // Source ranges given only for the other family still restrict this one: allow nobody
    // rather than everybody.
    const bool has_source_ranges = !info.load_balancer_source_ranges.empty();
    const bool externally_accessible =
        info.node_port != 0 || !p.external_ips.empty() || !p.lb_ips.empty();
    p.external_local = externally_accessible && info.external_policy == TrafficPolicy::kLocal;
    const bool internal_local = info.InternalPolicyLocal();
    // proxier/core computes Cluster endpoints whenever a Cluster policy is in use or the port is
    // externally accessible (pod and host traffic to external addresses short-circuits to them).
    const bool uses_cluster_endpoints = !internal_local || externally_accessible;
    const bool uses_local_endpoints = internal_local || p.external_local;

    p.svc_chain = ServiceChain(spn);
    p.svl_chain = ServiceLocalChain(spn);
    p.ext_chain = ExternalChain(spn);
    p.fw_chain = FirewallChain(spn);

    p.has_endpoints = p.sel.has_any_endpoints;
    p.uses_cluster_chain = !p.sel.cluster.empty() && uses_cluster_endpoints;
    p.uses_local_chain = !p.sel.local.empty() && uses_local_endpoints;

    p.internal_chain = internal_local ? p.svl_chain : p.svc_chain;
    p.has_internal = p.has_endpoints && (!internal_local || !p.sel.local.empty());
    p.external_policy_chain = p.external_local ? p.svl_chain : p.svc_chain;
    p.has_external = p.has_endpoints && (!p.external_local || !p.sel.local.empty());
    // The EXT chain is needed even without usable external endpoints: it short-circuits pod
    // and host traffic before the filter table drops what is left.
    p.uses_ext_chain = p.has_endpoints && externally_accessible;
    p.uses_fw_chain = p.has_endpoints && !p.lb_ips.empty() && has_source_ranges;
    p.lb_chain = p.uses_fw_chain ? p.fw_chain : p.ext_chain;

    if (!p.has_endpoints) {
      p.internal_filter_target = p.external_filter_target = "REJECT";
      p.internal_filter_comment = p.external_filter_comment = p.name + " has no endpoints";
    } else {
      if (!p.has_internal) {
        p.internal_filter_target = "DROP";
        p.internal_filter_comment = p.name + " has no local endpoints";
      }
      if (!p.has_external) {
        p.external_filter_target = "DROP";
        p.external_filter_comment = p.name + " has no local endpoints";
      }
    }
    return p;
  }

  void Service(const ServicePortState& port) {
    const std::optional<ServicePlan> plan = Plan(port);
    if (!plan) return;
    // Dispatch from the top-level chains, then the per-service chains.
    ClusterIpRules(*plan);
    ExternalIpRules(*plan);
    LoadBalancerRules(*plan);
    NodePortRules(*plan);
    ServiceChains(*plan);
    EndpointChains(*plan);
  }

  void ClusterIpRules(const ServicePlan& p) {
    const std::string cip = p.cluster_ip.ToString();
    if (p.has_internal) {
      Dispatch(p.cluster_ip, Args()
                                 .Comment(p.name + " cluster IP")
                                 .Proto(p.proto)
                                 .Raw(p.DstPort(cip))
                                 .Jump(p.internal_chain)
                                 .Take());
    } else {
      filter_.Add(S(kServicesChain), Args()
                                         .Comment(p.internal_filter_comment)
                                         .Proto(p.proto)
                                         .Raw(p.DstPort(cip))
                                         .Jump(p.internal_filter_target)
                                         .Take());
    }
  }

  void ExternalIpRules(const ServicePlan& p) {
    for (const auto& eip : p.external_ips) {
      const std::string e = eip.ToString();
      if (p.has_endpoints) {
        Dispatch(eip, Args()
                          .Comment(p.name + " external IP")
                          .Proto(p.proto)
                          .Raw(p.DstPort(e))
                          .Jump(p.ext_chain)
                          .Take());
      }
      if (!p.has_external) ExternalFilter(p, p.DstPort(e));
    }
  }

  void LoadBalancerRules(const ServicePlan& p) {
    for (const auto& lb : p.lb_ips) {
      const std::string l = lb.ToString();
      if (p.has_endpoints) {
        Dispatch(lb, Args()
                         .Comment(p.name + " loadbalancer IP")
                         .Proto(p.proto)
                         .Raw(p.DstPort(l))
                         .Jump(p.lb_chain)
                         .Take());
      }
      if (p.uses_fw_chain) {
        filter_.Add(S(kProxyFirewallChain),
                    Args()
                        .Comment(p.name + " traffic not accepted by " + p.fw_chain)
                        .Proto(p.proto)
                        .Raw(p.DstPort(l))
                        .Jump("DROP")
                        .Take());
      }
    }
    if (!p.has_external) {
      for (const auto& lb : p.lb_ips) ExternalFilter(p, p.DstPort(lb.ToString()));
    }
  }

  void NodePortRules(const ServicePlan& p) {
    if (p.info.node_port != 0) {
      const std::string np = "--dport " + std::to_string(p.info.node_port);
      if (p.has_endpoints) {
        // NodePorts are not subject to loadBalancerSourceRanges (as in kube-proxy).
        nat_.Add(S(kNodePortsChain),
                 Args().Comment(p.name).Proto(p.proto).Raw(np).Jump(p.ext_chain).Take());
      }
      if (!p.has_external) {
        filter_.Add(S(kExternalServicesChain), Args()
                                                   .Comment(p.external_filter_comment)
                                                   .Raw("-m addrtype --dst-type LOCAL")
                                                   .Proto(p.proto)
                                                   .Raw(np)
                                                   .Jump(p.external_filter_target)
                                                   .Take());
      }
    }
    if (p.info.health_check_node_port != 0) {
      filter_.Add(S(kNodePortsChain),
                  Args()
                      .Comment(p.name + " health check node port")
                      .Proto("tcp")
                      .Raw("--dport " + std::to_string(p.info.health_check_node_port))
                      .Jump("ACCEPT")
                      .Take());
    }
  }

  // The verdict for external traffic to `dst_port` when the external policy leaves no endpoint.
  void ExternalFilter(const ServicePlan& p, const std::string& dst_port) {
    filter_.Add(S(kExternalServicesChain), Args()
                                               .Comment(p.external_filter_comment)
                                               .Proto(p.proto)
                                               .Raw(dst_port)
                                               .Jump(p.external_filter_target)
                                               .Take());
  }

  // Appends a rule to a chain owned by the service port (so partial syncs can find it).
  void AddOwned(const ServicePlan& p, const std::string& chain, std::string args) {
    nat_.Get(chain, p.info.name).rules.push_back("-A " + chain + " " + args);
  }

  void ServiceChains(const ServicePlan& p) {
    // Declared in kube-proxy's order: EXT, FW, SVC, SVL (then SEP).
    const std::optional<ServicePortName> owner = p.info.name;
    if (p.uses_ext_chain) nat_.Get(p.ext_chain, owner);
    if (p.uses_fw_chain) nat_.Get(p.fw_chain, owner);
    if (p.uses_cluster_chain) nat_.Get(p.svc_chain, owner);
    if (p.uses_local_chain) nat_.Get(p.svl_chain, owner);

    if (p.has_internal) {
      Args masq;
      masq.Comment(p.name + " cluster IP").Proto(p.proto).Raw(p.DstPort(p.cluster_ip.ToString()));
      if (o_.masquerade_all) {
        AddOwned(p, p.internal_chain, masq.Jump(kMarkMasqChain).Take());
      } else if (detector_.implemented()) {
        // Off-cluster clients that route the service range to this node get masqueraded so
        // replies come back through it.
        AddOwned(p, p.internal_chain, masq.Raw(detector_.if_not_local).Jump(kMarkMasqChain).Take());
      }
    }
    if (p.uses_ext_chain) ExternalChainRules(p);
    if (p.uses_fw_chain) FirewallChainRules(p);
    auto add = [&](const std::string& chain, std::string args) {
      AddOwned(p, chain, std::move(args));
    };
    if (p.uses_cluster_chain) LoadBalance(p.info, p.name, p.svc_chain, p.sel.cluster, add);
    if (p.uses_local_chain) LoadBalance(p.info, p.name, p.svl_chain, p.sel.local, add);
  }

  void ExternalChainRules(const ServicePlan& p) {
    if (!p.external_local) {
      // Cluster policy may pick an endpoint on another node: SNAT so replies return here.
      AddOwned(p, p.ext_chain,
               Args()
                   .Comment("masquerade traffic for " + p.name + " external destinations")
                   .Jump(kMarkMasqChain)
                   .Take());
    } else if (p.uses_cluster_chain) {
      // Pods and the host reaching an external address behave as if they went out to the
      // load balancer and came back: no traffic policy applies to them.
      if (detector_.implemented()) {
        AddOwned(p, p.ext_chain,
                 Args()
                     .Comment("pod traffic for " + p.name + " external destinations")
                     .Raw(detector_.if_local)
                     .Jump(p.svc_chain)
                     .Take());
      }
      // Host traffic gets the external address as source, which the endpoint cannot answer.
      AddOwned(p, p.ext_chain,
               Args()
                   .Comment("masquerade LOCAL traffic for " + p.name + " external destinations")
                   .Raw("-m addrtype --src-type LOCAL")
                   .Jump(kMarkMasqChain)
                   .Take());
      AddOwned(p, p.ext_chain,
               Args()
                   .Comment("route LOCAL traffic for " + p.name + " external destinations")
                   .Raw("-m addrtype --src-type LOCAL")
                   .Jump(p.svc_chain)
                   .Take());
    }
    if (p.has_external) AddOwned(p, p.ext_chain, Args().Jump(p.external_policy_chain).Take());
  }

  void FirewallChainRules(const ServicePlan& p) {
    const std::string head = Args().Comment(p.name + " loadbalancer IP").Take();
    bool allow_from_node = false;
    for (const auto& cidr : p.source_ranges) {
      AddOwned(p, p.fw_chain, head + " -s " + cidr.ToString() + " -j " + p.ext_chain);
      if (node_ip_ && cidr.Contains(*node_ip_)) allow_from_node = true;
    }
    // A VIP often sits on a local interface, so the node's own requests arrive with the VIP
    // as source; let them through when the node itself is allowed.
    if (allow_from_node) {
      for (const auto& lb : p.lb_ips) {
        AddOwned(p, p.fw_chain, head + " -s " + lb.ToString() + " -j " + p.ext_chain);
      }
    }
    // Whatever falls off the end is not DNATed and meets KUBE-PROXY-FIREWALL's DROP.
    AddOwned(p, p.fw_chain,
             Args()
                 .Comment("other traffic to " + p.name + " will be dropped by KUBE-PROXY-FIREWALL")
                 .Take());
  }

  void EndpointChains(const ServicePlan& p) {
    const std::string comment = Args().Comment(p.name).Take();
    for (const auto& ep : p.sel.all_reachable) {
      const std::string sep = EndpointChain(p.info.name, *ep);
      nat_.Get(sep, p.info.name);
      // Hairpin: a pod reaching itself through the service must be SNATed or it would answer
      // itself directly and the client would drop the reply.
      AddOwned(p, sep, comment + " -s " + ep->ip.ToString() + " -j " + S(kMarkMasqChain));
      Args dnat;
      dnat.Raw(comment);
      if (p.info.session_affinity_client_ip) dnat.Raw("-m recent --name " + sep + " --set");
      dnat.Proto(p.proto).Jump("DNAT").Raw("--to-destination " + ep->ToString());
      AddOwned(p, sep, dnat.Take());
    }
  }

  template <typename AddFn>
  void LoadBalance(const ServicePortInfo& info, const std::string& name, const std::string& chain,
                   const EndpointList& endpoints, AddFn& add) {
    if (info.session_affinity_client_ip) {
      for (const auto& ep : endpoints) {
        const std::string sep = EndpointChain(info.name, *ep);
        add(chain, Args()
                       .Comment(name + " -> " + ep->ToString())
                       .Raw("-m recent --name " + sep + " --rcheck --seconds " +
                            std::to_string(info.session_affinity_timeout_seconds) + " --reap")
                       .Jump(sep)
                       .Take());
      }
    }
    const size_t n = endpoints.size();
    for (size_t i = 0; i < n; ++i) {
      Args a;
      a.Comment(name + " -> " + endpoints[i]->ToString());
      // Rule i takes 1/(n-i) of what rules 0..i-1 left: uniform over the n endpoints.
      if (i + 1 < n) a.Raw("-m statistic --mode random --probability " + Probability(n - i));
      add(chain, a.Jump(EndpointChain(info.name, *endpoints[i])).Take());
    }
  }

  void Dispatch(const IpAddress& dst, std::string args) {
    dispatch_.push_back(DispatchEntry{dst, std::move(args)});
  }

  void Finish() {
    const std::string services = S(kServicesChain);
    if (o_.dispatch == DispatchMode::kPrefixTree) {
      PrefixDispatch tree(family_, static_cast<size_t>(std::max(1, o_.dispatch_leaf_size)));
      for (auto& chain : tree.Build(services, std::move(dispatch_))) {
        auto& out = nat_.Get(chain.name, std::nullopt);
        for (auto& r : chain.rules) out.rules.push_back(std::move(r));
      }
    } else {
      for (auto& e : dispatch_) nat_.Add(services, std::move(e.args));
    }
    NodePortsDispatch();

    if (!o_.conntrack_tcp_liberal) {
      // Without be_liberal, out-of-window packets are INVALID and, left alone, would reach the
      // endpoint un-DNATed and trigger resets (kubernetes#74839).
      filter_.Add(S(kForwardChain),
                  Args().Raw("-m conntrack --ctstate INVALID").Jump("DROP").Take());
    }
    // NodePort traffic forwarded to other nodes carries the mark: accept it even when FORWARD's
    // policy is DROP.
    filter_.Add(S(kForwardChain), Args()
                                      .Comment("kubernetes forwarding rules")
                                      .Raw("-m mark --mark " + mark_ + "/" + mark_)
                                      .Jump("ACCEPT")
                                      .Take());
    filter_.Add(S(kForwardChain), Args()
                                      .Comment("kubernetes forwarding conntrack rule")
                                      .Raw("-m conntrack --ctstate RELATED,ESTABLISHED")
                                      .Jump("ACCEPT")
                                      .Take());
  }

  void NodePortsDispatch() {
    const std::string services = S(kServicesChain);
    bool match_all = o_.node_port_addresses.empty();
    for (const auto& c : o_.node_port_addresses) {
      if (c.prefix_length() == 0 && c.family() == family_) match_all = true;
    }
    const bool v6 = family_ == IpFamily::kIPv6;
    if (match_all) {
      Args a;
      a.Comment(kNodePortsComment).Raw("-m addrtype --dst-type LOCAL");
      // Localhost NodePorts never work on IPv6 and on IPv4 only with route_localnet.
      if (v6) {
        a.Raw("! -d ::1/128");
      } else if (!o_.localhost_nodeports) {
        a.Raw("! -d 127.0.0.0/8");
      }
      nat_.Add(services, a.Jump(kNodePortsChain).Take());
      return;
    }
    std::vector<IpAddress> ips;
    for (const auto& ip : local_addresses_) {
      if (ip.family() != family_) continue;
      if (ip.IsLoopback() && (v6 || !o_.localhost_nodeports)) continue;
      for (const auto& c : o_.node_port_addresses) {
        if (c.Contains(ip)) {
          ips.push_back(ip);
          break;
        }
      }
    }
    std::sort(ips.begin(), ips.end());
    ips.erase(std::unique(ips.begin(), ips.end()), ips.end());
    for (const auto& ip : ips) {
      nat_.Add(services, Args()
                             .Comment(kNodePortsComment)
                             .Raw("-d " + ip.ToString())
                             .Jump(kNodePortsChain)
                             .Take());
    }
  }

  const IptablesOptions& o_;
  const DesiredState& state_;
  IpFamily family_;
  const std::vector<IpAddress>& local_addresses_;
  std::string mark_;
  LocalDetector detector_;
  std::optional<IpAddress> node_ip_;
  ChainList filter_;
  ChainList nat_;
  std::vector<DispatchEntry> dispatch_;
};

}  // namespace

IptablesRenderer::IptablesRenderer(IptablesOptions options) : options_(std::move(options)) {}

IptablesRuleset IptablesRenderer::Render(const DesiredState& state, IpFamily family,
                                         const std::vector<IpAddress>& local_addresses) const {
  return FamilyRenderer(options_, state, family, local_addresses).Render();
}

std::vector<JumpRule> KpxJumpRules(IpFamily family, const IptablesOptions& options) {
  const std::vector<std::string> kNew = {"-m", "conntrack", "--ctstate", "NEW"};
  auto with_comment = [](std::vector<std::string> extra, const std::string& comment) {
    extra.insert(extra.end(), {"-m", "comment", "--comment", comment});
    return extra;
  };
  const std::string ext = std::string(kExternalServicesChain);
  const std::string svc = std::string(kServicesChain);
  const std::string np = std::string(kNodePortsChain);
  const std::string fwd = std::string(kForwardChain);
  const std::string pfw = std::string(kProxyFirewallChain);
  std::vector<JumpRule> rules = {
      {"filter", "INPUT", with_comment(kNew, "kubernetes externally-visible service portals"), ext},
      {"filter", "FORWARD", with_comment(kNew, "kubernetes externally-visible service portals"),
       ext},
      {"filter", "INPUT", with_comment({}, "kubernetes health check service ports"), np},
      {"filter", "FORWARD", with_comment(kNew, "kubernetes service portals"), svc},
      {"filter", "OUTPUT", with_comment(kNew, "kubernetes service portals"), svc},
      {"filter", "FORWARD", with_comment({}, "kubernetes forwarding rules"), fwd},
      {"filter", "INPUT", with_comment(kNew, "kubernetes load balancer firewall"), pfw},
      {"filter", "OUTPUT", with_comment(kNew, "kubernetes load balancer firewall"), pfw},
      {"filter", "FORWARD", with_comment(kNew, "kubernetes load balancer firewall"), pfw},
      {"nat", "OUTPUT", with_comment({}, "kubernetes service portals"), svc},
      {"nat", "PREROUTING", with_comment({}, "kubernetes service portals"), svc},
      {"nat", "POSTROUTING", with_comment({}, "kubernetes postrouting rules"),
       std::string(kPostroutingChain)},
  };
  if (family == IpFamily::kIPv4 && options.localhost_nodeports) {
    rules.push_back({"filter", "INPUT", {}, std::string(kFirewallChain)});
    rules.push_back({"filter", "OUTPUT", {}, std::string(kFirewallChain)});
  }
  return rules;
}

}  // namespace kpx
