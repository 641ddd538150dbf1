#include "proxier/iptables/iptables_renderer.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>

#include "proxier/core/node_port_addresses.h"
#include "proxier/iptables/chain_names.h"
#include "proxier/iptables/iptables_family_rules.h"
#include "proxier/netfilter/nfacct.h"
#include "proxier/netfilter/restore_text.h"

namespace kpx {

namespace {

constexpr std::string_view kNodePortsComment =
    "kubernetes service nodeports; NOTE: this must be the last rule in this chain";

std::string S(std::string_view v) { return std::string(v); }

// Builds the argument text of one rule; comments are quoted only when they need it. Pieces are
// appended in place: a full sync writes 320 000 rules, and a temporary string per piece was a
// good part of the render.
class Args {
 public:
  Args& Comment(std::string_view text) {
    Raw("-m comment --comment ");
    s_ += RestoreText::Quote(text);
    return *this;
  }
  Args& Proto(std::string_view p) {
    Raw("-m ");
    s_ += p;
    s_ += " -p ";
    s_ += p;
    return *this;
  }
  Args& Raw(std::string_view text) {
    if (!s_.empty()) s_.push_back(' ');
    s_ += text;
    return *this;
  }
  Args& Jump(std::string_view target) {
    Raw("-j ");
    s_ += target;
    return *this;
  }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

// Appends "-A CHAIN ARGS\n" to `out`.
void AppendLine(std::string& out, std::string_view chain, std::string_view args) {
  out += "-A ";
  out += chain;
  out.push_back(' ');
  out += args;
  out.push_back('\n');
}

// "-A CHAIN ARGS", a line of its own.
std::string Line(std::string_view chain, std::string_view args) {
  std::string out;
  out.reserve(5 + chain.size() + args.size());
  AppendLine(out, chain, args);
  out.pop_back();
  return out;
}

std::string Probability(size_t n) {
  // Every service with n endpoints prints the same n - 1 numbers; snprintf of a double is slow.
  // The usual counts are remembered, a huge one (a bounded table) printed each time.
  constexpr size_t kRemembered = 4096;
  thread_local std::vector<std::string> printed;
  auto print = [n] {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%0.10f", 1.0 / static_cast<double>(n));
    return std::string(buf);
  };
  if (n >= kRemembered) return print();
  if (n >= printed.size()) printed.resize(n + 1);
  if (printed[n].empty()) printed[n] = print();
  return printed[n];
}

// Renders one service port into a fragment.
class ServicePortRenderer {
 public:
  ServicePortRenderer(const IptablesOptions& o, const FamilyContext& c, ServiceChainNames& names,
                      ChainTexts& texts)
      : o_(o), c_(c), names_(names), texts_(texts), text_(TextPool()) {}

  ServiceFragment Render(const ServicePortState& port) {
    const std::optional<ServicePlan> plan = Plan(port);
    frag_.endpoints = port.For(c_.family).all().size();
    if (!plan) return std::move(frag_);
    // Dispatch from the top-level chains, then the per-service chains.
    ClusterIpRules(*plan);
    ExternalIpRules(*plan);
    LoadBalancerRules(*plan);
    NodePortRules(*plan);
    ServiceChains(*plan);
    EndpointChains(*plan);
    // Built here, the texts are freed as soon as this port is rendered: their memory goes to
    // the next port's, not between the long-lived objects rendered after them.
    for (size_t i = 0; i < frag_.chains.size(); ++i) {
      frag_.chains[i].digest = OwnedChain::Digest(text_[i]);
      frag_.chains[i].text = texts_.Add(frag_.chains[i].name, text_[i]);
      // A port with thousands of endpoints leaves no megabytes behind in the pool (the texts
      // past this port's were trimmed by the port that used them).
      if (text_[i].capacity() > kKeptText) std::string().swap(text_[i]);
    }
    frag_.chains.shrink_to_fit();  // kept until the port changes: 10 000 of them
    return std::move(frag_);
  }

 private:
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

  std::optional<ServicePlan> Plan(const ServicePortState& port) {
    const ServicePortInfo& info = port.info;
    const auto& cluster_ip = info.ClusterIp(c_.family);
    if (!cluster_ip) return std::nullopt;  // single-stack service of the other family
    ServicePlan p(info, port.For(c_.family));
    const ServicePortName& spn = info.name;
    p.name = spn.ToString();
    p.proto = S(ProtocolLowerName(info.protocol));
    p.port = std::to_string(info.port);
    p.cluster_ip = *cluster_ip;
    p.external_ips = OfFamily(info.external_ips, c_.family);
    p.lb_ips = OfFamily(info.load_balancer_ips, c_.family);
    p.source_ranges = OfFamily(info.load_balancer_source_ranges, c_.family);
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

    if (names_.svc.empty()) {
      names_.svc = ServiceChain(spn);
      names_.svl = ServiceLocalChain(spn);
      names_.ext = ExternalChain(spn);
      names_.fw = FirewallChain(spn);
    }
    p.svc_chain = names_.svc;
    p.svl_chain = names_.svl;
    p.ext_chain = names_.ext;
    p.fw_chain = names_.fw;

    p.has_endpoints = p.sel.has_any_endpoints();
    p.uses_cluster_chain = !p.sel.cluster().empty() && uses_cluster_endpoints;
    p.uses_local_chain = !p.sel.local().empty() && uses_local_endpoints;

    p.internal_chain = internal_local ? p.svl_chain : p.svc_chain;
    p.has_internal = p.has_endpoints && (!internal_local || !p.sel.local().empty());
    p.external_policy_chain = p.external_local ? p.svl_chain : p.svc_chain;
    p.has_external = p.has_endpoints && (!p.external_local || !p.sel.local().empty());
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

  // The KUBE-SEP- name of `ep`, hashed once per rendering of the port (its SVC, SVL and SEP
  // chains all name it). Not kept across syncs: re-hashing a changed port's endpoints costs
  // microseconds, and a memo of every endpoint's name held 14 MiB at 10 000 x 10.
  const std::string& Sep(const ServicePortName& spn, const EndpointInfo& ep) {
    std::string key = ep.ToString();
    if (auto it = used_sep_.find(key); it != used_sep_.end()) return it->second;
    std::string name = EndpointChain(spn, ep);
    return used_sep_.emplace(std::move(key), std::move(name)).first->second;
  }

  void Shared(SharedChain chain, std::string_view name, std::string args) {
    const int i = static_cast<int>(chain);
    AppendLine(frag_.shared[i], name, args);
    ++frag_.shared_rules[i];
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
      Shared(SharedChain::kFilterServices, kServicesChain,
             Args()
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
        Shared(SharedChain::kFilterProxyFirewall, kProxyFirewallChain,
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
        // Localhost NodePorts are counted in kube-proxy's nfacct counter first (IPv4 only).
        if (o_.localhost_nodeports && c_.family == IpFamily::kIPv4 &&
            o_.nfacct_localhost_nodeports) {
          Shared(
              SharedChain::kNatNodePorts, kNodePortsChain,
              Args()
                  .Comment(p.name)
                  .Proto(p.proto)
                  .Raw("-d 127.0.0.0/8 " + np)
                  .Raw(std::string("-m nfacct --nfacct-name ") + kLocalhostNodePortsAcceptedCounter)
                  .Jump(p.ext_chain)
                  .Take());
        }
        // NodePorts are not subject to loadBalancerSourceRanges (as in kube-proxy).
        Shared(SharedChain::kNatNodePorts, kNodePortsChain,
               Args().Comment(p.name).Proto(p.proto).Raw(np).Jump(p.ext_chain).Take());
      }
      if (!p.has_external) {
        Shared(SharedChain::kFilterExternalServices, kExternalServicesChain,
               Args()
                   .Comment(p.external_filter_comment)
                   .Raw("-m addrtype --dst-type LOCAL")
                   .Proto(p.proto)
                   .Raw(np)
                   .Jump(p.external_filter_target)
                   .Take());
      }
    }
    if (p.info.health_check_node_port != 0) {
      Shared(SharedChain::kFilterNodePorts, kNodePortsChain,
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
    Shared(SharedChain::kFilterExternalServices, kExternalServicesChain,
           Args()
               .Comment(p.external_filter_comment)
               .Proto(p.proto)
               .Raw(dst_port)
               .Jump(p.external_filter_target)
               .Take());
  }

  // Declares an owned chain (first use fixes its place in the restore input).
  OwnedChain& Chain(const ServicePlan& p, const std::string& chain) {
    // A port owns a dozen chains (one per endpoint, and a few): looked for one by one, with
    // no map of their names (a node and a copy of the name each); an index past kFewChains.
    const size_t n = frag_.chains.size();
    if (n < kFewChains) {
      for (size_t i = 0; i < n; ++i) {
        if (frag_.chains[i].name == chain) return frag_.chains[i];
      }
    } else {
      if (owned_.empty()) {
        for (size_t i = 0; i < n; ++i) owned_.emplace(frag_.chains[i].name, i);
      }
      if (auto it = owned_.find(chain); it != owned_.end()) return frag_.chains[it->second];
      owned_.emplace(chain, n);
    }
    frag_.chains.push_back(OwnedChain{chain, {}, 0, 0});
    if (n == text_.size()) text_.emplace_back();
    text_[n].clear();
    return frag_.chains.back();
  }

  void AddOwned(const ServicePlan& p, const std::string& chain, std::string_view args) {
    OwnedChain& c = Chain(p, chain);
    std::string& text = text_[static_cast<size_t>(&c - frag_.chains.data())];
    AppendLine(text, chain, args);
    ++c.rules;
  }

  void ServiceChains(const ServicePlan& p) {
    // Declared in kube-proxy's order: EXT, FW, SVC, SVL (then SEP).
    if (p.uses_ext_chain) Chain(p, p.ext_chain);
    if (p.uses_fw_chain) Chain(p, p.fw_chain);
    if (p.uses_cluster_chain) Chain(p, p.svc_chain);
    if (p.uses_local_chain) Chain(p, p.svl_chain);

    if (p.has_internal) {
      Args masq;
      masq.Comment(p.name + " cluster IP").Proto(p.proto).Raw(p.DstPort(p.cluster_ip.ToString()));
      if (o_.masquerade_all) {
        AddOwned(p, p.internal_chain, masq.Jump(kMarkMasqChain).Take());
      } else if (c_.detector.implemented()) {
        // Off-cluster clients that route the service range to this node get masqueraded so
        // replies come back through it.
        AddOwned(p, p.internal_chain,
                 masq.Raw(c_.detector.if_not_local).Jump(kMarkMasqChain).Take());
      }
    }
    if (p.uses_ext_chain) ExternalChainRules(p);
    if (p.uses_fw_chain) FirewallChainRules(p);
    if (p.uses_cluster_chain) LoadBalance(p, p.svc_chain, p.sel.cluster());
    if (p.uses_local_chain) LoadBalance(p, p.svl_chain, p.sel.local());
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
      if (c_.detector.implemented()) {
        AddOwned(p, p.ext_chain,
                 Args()
                     .Comment("pod traffic for " + p.name + " external destinations")
                     .Raw(c_.detector.if_local)
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
      if (c_.node_ip && cidr.Contains(*c_.node_ip)) allow_from_node = true;
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

  // kube-proxy's appendServiceCommentLocked: per-endpoint comments are dropped in large
  // clusters, where they made up a large part of the table the kernel copies on every change.
  void EndpointComment(Args& a, const std::string& text) const {
    if (!c_.large_cluster) a.Comment(text);
  }

  void EndpointChains(const ServicePlan& p) {
    Args head;
    EndpointComment(head, p.name);
    const std::string comment = head.Take();
    for (const auto& ep : p.sel.all_reachable()) {
      const std::string& sep = Sep(p.info.name, *ep);
      Chain(p, sep);
      // Hairpin: a pod reaching itself through the service must be SNATed or it would answer
      // itself directly and the client would drop the reply.
      AddOwned(p, sep,
               Args().Raw(comment).Raw("-s " + ep->ip.ToString()).Jump(kMarkMasqChain).Take());
      Args dnat;
      dnat.Raw(comment);
      if (p.info.session_affinity_client_ip) dnat.Raw("-m recent --name " + sep + " --set");
      dnat.Proto(p.proto).Jump("DNAT").Raw("--to-destination " + ep->ToString());
      AddOwned(p, sep, dnat.Take());
    }
  }

  void LoadBalance(const ServicePlan& p, const std::string& chain, const EndpointList& endpoints) {
    const ServicePortInfo& info = p.info;
    if (info.session_affinity_client_ip) {
      for (const auto& ep : endpoints) {
        const std::string& sep = Sep(info.name, *ep);
        Args a;
        EndpointComment(a, p.name + " -> " + ep->ToString());
        AddOwned(p, chain,
                 a.Raw("-m recent --name " + sep + " --rcheck --seconds " +
                       std::to_string(info.session_affinity_timeout_seconds) + " --reap")
                     .Jump(sep)
                     .Take());
      }
    }
    const size_t n = endpoints.size();
    for (size_t i = 0; i < n; ++i) {
      Args a;
      EndpointComment(a, p.name + " -> " + endpoints[i]->ToString());
      // Rule i takes 1/(n-i) of what rules 0..i-1 left: uniform over the n endpoints.
      if (i + 1 < n) a.Raw("-m statistic --mode random --probability " + Probability(n - i));
      AddOwned(p, chain, a.Jump(Sep(info.name, *endpoints[i])).Take());
    }
  }

  void Dispatch(const IpAddress& dst, std::string args) {
    frag_.dispatch.push_back(DispatchEntry{dst, std::move(args)});
  }

  const IptablesOptions& o_;
  const FamilyContext& c_;
  ServiceChainNames& names_;
  ServiceFragment frag_;
  ChainTexts& texts_;
  // One pool of chain texts per thread, reused from port to port: a full sync's 110 000 chain
  // texts were a malloc each and grew by doubling, a third of rendering's time in the allocator.
  // One renderer at a time per thread uses it.
  static std::vector<std::string>& TextPool() {
    thread_local std::vector<std::string> pool;
    return pool;
  }
  static constexpr size_t kFewChains = 32;
  static constexpr size_t kKeptText = 4096;
  // Per owned chain, as in frag_.chains (entries past frag_.chains.size() are left over).
  std::vector<std::string>& text_;
  std::unordered_map<std::string, size_t> owned_;  // past kFewChains: name -> index
  std::unordered_map<std::string, std::string> used_sep_;
};

}  // namespace

IptablesRenderer::IptablesRenderer(IptablesOptions options) : options_(std::move(options)) {}

FamilyContext IptablesRenderer::Context(const NodeState& node, IpFamily family,
                                        bool large_cluster) const {
  FamilyContext c;
  c.family = family;
  c.mark = MasqueradeMark(options_.masquerade_bit);
  c.detector = LocalTrafficDetector::For(options_.local_detect, family, options_.cluster_cidrs,
                                         node.pod_cidrs, options_.local_interface);
  for (const auto& a : node.addresses) {
    if (a.family() == family) {
      c.node_ip = a;
      break;
    }
  }
  c.large_cluster = large_cluster;
  return c;
}

bool IptablesRenderer::LargeCluster(size_t endpoints) const {
  return options_.large_cluster_endpoints_threshold >= 0 &&
         endpoints > static_cast<size_t>(options_.large_cluster_endpoints_threshold);
}

ServiceFragment IptablesRenderer::RenderServicePort(const ServicePortState& port,
                                                    const FamilyContext& context,
                                                    ServiceChainNames& names,
                                                    ChainTexts& texts) const {
  return ServicePortRenderer(options_, context, names, texts).Render(port);
}

TopLevelRules IptablesRenderer::RenderTopLevel(const DesiredState& state, IpFamily family,
                                               const std::vector<IpAddress>& local) const {
  const IptablesOptions& o = options_;
  const std::string mark = MasqueradeMark(o.masquerade_bit);
  const bool firewall = family == IpFamily::kIPv4 && o.localhost_nodeports;
  TopLevelRules t;
  // References into these are held while chains are added: no reallocation.
  t.filter.reserve(6);
  t.nat.reserve(4);
  auto top = [](std::vector<TopLevelChain>& table, std::string_view name,
                std::optional<SharedChain> services) -> TopLevelChain& {
    table.push_back(TopLevelChain{S(name), services, false, {}});
    return table.back();
  };
  auto add = [](TopLevelChain& c, std::string args) { c.rules.push_back(Line(c.name, args)); };

  // filter, in kube-proxy's declaration order.
  top(t.filter, kServicesChain, SharedChain::kFilterServices);
  top(t.filter, kExternalServicesChain, SharedChain::kFilterExternalServices);
  TopLevelChain& forward = top(t.filter, kForwardChain, std::nullopt);
  top(t.filter, kNodePortsChain, SharedChain::kFilterNodePorts);
  top(t.filter, kProxyFirewallChain, SharedChain::kFilterProxyFirewall);
  if (firewall) {
    // route_localnet makes 127/8 routable; without this guard other hosts could reach
    // localhost-bound services through it (kubernetes#90259).
    add(top(t.filter, kFirewallChain, std::nullopt),
        Args()
            .Comment("block incoming localnet connections")
            .Raw("-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! "
                 "--ctstate RELATED,ESTABLISHED,DNAT")
            .Jump("DROP")
            .Take());
  }
  if (!o.conntrack_tcp_liberal) {
    // Without be_liberal, out-of-window packets are INVALID and, left alone, would reach the
    // endpoint un-DNATed and trigger resets (kubernetes#74839).
    Args a;
    a.Raw("-m conntrack --ctstate INVALID");
    if (o.nfacct_ct_state_invalid) {
      a.Raw(std::string("-m nfacct --nfacct-name ") + kCtStateInvalidDroppedCounter);
    }
    add(forward, a.Jump("DROP").Take());
  }
  // NodePort traffic forwarded to other nodes carries the mark: accept it even when FORWARD's
  // policy is DROP.
  add(forward, Args()
                   .Comment("kubernetes forwarding rules")
                   .Raw("-m mark --mark " + mark + "/" + mark)
                   .Jump("ACCEPT")
                   .Take());
  add(forward, Args()
                   .Comment("kubernetes forwarding conntrack rule")
                   .Raw("-m conntrack --ctstate RELATED,ESTABLISHED")
                   .Jump("ACCEPT")
                   .Take());

  // nat.
  TopLevelChain& services = top(t.nat, kServicesChain, std::nullopt);
  services.dispatch = true;
  top(t.nat, kNodePortsChain, SharedChain::kNatNodePorts);
  TopLevelChain& post = top(t.nat, kPostroutingChain, std::nullopt);
  TopLevelChain& masq_chain = top(t.nat, kMarkMasqChain, std::nullopt);
  add(post, Args().Raw("-m mark ! --mark " + mark + "/" + mark).Jump("RETURN").Take());
  // Clear the mark so a packet that goes through the stack again is not masqueraded twice.
  add(post, Args().Jump("MARK").Raw("--xor-mark " + mark).Take());
  Args masq;
  masq.Comment("kubernetes service traffic requiring SNAT").Jump("MASQUERADE");
  if (o.masquerade_random_fully) masq.Raw("--random-fully");
  add(post, masq.Take());
  add(masq_chain, Args().Jump("MARK").Raw("--or-mark " + mark).Take());

  // The NodePort entry point, after every service's dispatch rule.
  const NodePortAddresses npa{o.node_port_addresses, o.node_port_primary};
  const bool v6 = family == IpFamily::kIPv6;
  if (npa.MatchesAll(family, state.node)) {
    Args a;
    a.Comment(kNodePortsComment).Raw("-m addrtype --dst-type LOCAL");
    // Localhost NodePorts never work on IPv6 and on IPv4 only with route_localnet.
    if (v6) {
      a.Raw("! -d ::1/128");
    } else if (!o.localhost_nodeports) {
      a.Raw("! -d 127.0.0.0/8");
    }
    add(services, a.Jump(kNodePortsChain).Take());
  } else {
    for (const auto& ip : npa.Select(family, local, state.node, !v6 && o.localhost_nodeports)) {
      add(services, Args()
                        .Comment(kNodePortsComment)
                        .Raw("-d " + ip.ToString())
                        .Jump(kNodePortsChain)
                        .Take());
    }
  }
  return t;
}

std::string IptablesRenderer::Render(const DesiredState& state, IpFamily family,
                                     const std::vector<IpAddress>& local_addresses) const {
  IptablesFamilyRules rules(*this, family);
  return rules.Update(state, local_addresses, IptablesFamilyRules::Mode::kFull, {}, {}).text;
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
