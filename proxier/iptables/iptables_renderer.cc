#include "proxier/iptables/iptables_renderer.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "proxier/core/node_port_addresses.h"
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
using LocalDetector = LocalTrafficDetector;

LocalDetector MakeDetector(const IptablesOptions& o, const DesiredState& state, IpFamily family) {
  return LocalTrafficDetector::For(o.local_detect, family, o.cluster_cidrs, state.node.pod_cidrs,
                                   o.local_interface);
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

  void Service(const ServicePortState& port) {
    const ServicePortInfo& info = port.info;
    const auto& cluster_ip = info.ClusterIp(family_);
    if (!cluster_ip) return;  // single-stack service of the other family
    const EndpointSelection& sel = port.For(family_);
    const ServicePortName& spn = info.name;
    const std::string name = spn.ToString();
    const std::string proto = S(ProtocolLowerName(info.protocol));
    const std::string port_str = std::to_string(info.port);
    const std::string cip = cluster_ip->ToString();

    const std::vector<IpAddress> external_ips = OfFamily(info.external_ips, family_);
    const std::vector<IpAddress> lb_ips = OfFamily(info.load_balancer_ips, family_);
    const std::vector<Cidr> source_ranges = OfFamily(info.load_balancer_source_ranges, family_);
    // Source ranges given only for the other family still restrict this one: allow nobody
    // rather than everybody.
    const bool has_source_ranges = !info.load_balancer_source_ranges.empty();
    const bool externally_accessible =
        info.node_port != 0 || !external_ips.empty() || !lb_ips.empty();
    const bool external_local =
        externally_accessible && info.external_policy == TrafficPolicy::kLocal;
    const bool internal_local = info.InternalPolicyLocal();
    const bool uses_cluster_endpoints = !internal_local || externally_accessible;
    const bool uses_local_endpoints = internal_local || external_local;

    const std::string svc_chain = ServiceChain(spn);
    const std::string svl_chain = ServiceLocalChain(spn);
    const std::string ext_chain = ExternalChain(spn);
    const std::string fw_chain = FirewallChain(spn);

    // kube-proxy needs Cluster endpoints for every externally accessible port (to short-circuit
    // pod and host traffic), but proxier/core computes them only when a Cluster policy is in use;
    // fill the gap with the same ready-else-serving-terminating rule.
    EndpointList cluster = sel.cluster;
    EndpointList reachable = sel.all_reachable;
    if (cluster.empty() && uses_cluster_endpoints && !info.UsesClusterEndpoints()) {
      for (const auto& ep : sel.all) {
        if (ep->ready) cluster.push_back(ep);
      }
      if (cluster.empty()) {
        for (const auto& ep : sel.all) {
          if (ep->serving && ep->terminating) cluster.push_back(ep);
        }
      }
      reachable.clear();
      for (const auto& ep : sel.all) {
        auto in = [&](const EndpointList& l) {
          return std::find(l.begin(), l.end(), ep) != l.end();
        };
        if (in(cluster) || in(sel.local)) reachable.push_back(ep);
      }
    }
    const bool has_endpoints = sel.has_any_endpoints;
    const bool uses_cluster_chain = !cluster.empty() && uses_cluster_endpoints;
    const bool uses_local_chain = !sel.local.empty() && uses_local_endpoints;

    std::string internal_chain = svc_chain;
    bool has_internal = has_endpoints;
    if (internal_local) {
      internal_chain = svl_chain;
      has_internal = has_internal && !sel.local.empty();
    }
    std::string external_policy_chain = svc_chain;
    bool has_external = has_endpoints;
    if (external_local) {
      external_policy_chain = svl_chain;
      has_external = has_external && !sel.local.empty();
    }
    // The EXT chain is needed even without usable external endpoints: it short-circuits pod
    // and host traffic before the filter table drops what is left.
    const bool uses_ext_chain = has_endpoints && externally_accessible;
    const bool uses_fw_chain = has_endpoints && !lb_ips.empty() && has_source_ranges;
    const std::string lb_chain = uses_fw_chain ? fw_chain : ext_chain;

    std::string internal_filter_target, internal_filter_comment;
    std::string external_filter_target, external_filter_comment;
    if (!has_endpoints) {
      internal_filter_target = external_filter_target = "REJECT";
      internal_filter_comment = external_filter_comment = name + " has no endpoints";
    } else {
      if (!has_internal) {
        internal_filter_target = "DROP";
        internal_filter_comment = name + " has no local endpoints";
      }
      if (!has_external) {
        external_filter_target = "DROP";
        external_filter_comment = name + " has no local endpoints";
      }
    }

    auto dst_port = [&](const std::string& ip) { return "-d " + ip + " --dport " + port_str; };

    // Dispatch from the top-level chains.
    if (has_internal) {
      Dispatch(*cluster_ip, Args()
                                .Comment(name + " cluster IP")
                                .Proto(proto)
                                .Raw(dst_port(cip))
                                .Jump(internal_chain)
                                .Take());
    } else {
      filter_.Add(S(kServicesChain), Args()
                                         .Comment(internal_filter_comment)
                                         .Proto(proto)
                                         .Raw(dst_port(cip))
                                         .Jump(internal_filter_target)
                                         .Take());
    }
    for (const auto& eip : external_ips) {
      const std::string e = eip.ToString();
      if (has_endpoints) {
        Dispatch(eip, Args()
                          .Comment(name + " external IP")
                          .Proto(proto)
                          .Raw(dst_port(e))
                          .Jump(ext_chain)
                          .Take());
      }
      if (!has_external) {
        filter_.Add(S(kExternalServicesChain), Args()
                                                   .Comment(external_filter_comment)
                                                   .Proto(proto)
                                                   .Raw(dst_port(e))
                                                   .Jump(external_filter_target)
                                                   .Take());
      }
    }
    for (const auto& lb : lb_ips) {
      const std::string l = lb.ToString();
      if (has_endpoints) {
        Dispatch(lb, Args()
                         .Comment(name + " loadbalancer IP")
                         .Proto(proto)
                         .Raw(dst_port(l))
                         .Jump(lb_chain)
                         .Take());
      }
      if (uses_fw_chain) {
        filter_.Add(S(kProxyFirewallChain),
                    Args()
                        .Comment(name + " traffic not accepted by " + fw_chain)
                        .Proto(proto)
                        .Raw(dst_port(l))
                        .Jump("DROP")
                        .Take());
      }
    }
    if (!has_external) {
      for (const auto& lb : lb_ips) {
        filter_.Add(S(kExternalServicesChain), Args()
                                                   .Comment(external_filter_comment)
                                                   .Proto(proto)
                                                   .Raw(dst_port(lb.ToString()))
                                                   .Jump(external_filter_target)
                                                   .Take());
      }
    }
    if (info.node_port != 0) {
      const std::string np = "--dport " + std::to_string(info.node_port);
      if (has_endpoints) {
        // NodePorts are not subject to loadBalancerSourceRanges (as in kube-proxy).
        nat_.Add(S(kNodePortsChain),
                 Args().Comment(name).Proto(proto).Raw(np).Jump(ext_chain).Take());
      }
      if (!has_external) {
        filter_.Add(S(kExternalServicesChain), Args()
                                                   .Comment(external_filter_comment)
                                                   .Raw("-m addrtype --dst-type LOCAL")
                                                   .Proto(proto)
                                                   .Raw(np)
                                                   .Jump(external_filter_target)
                                                   .Take());
      }
    }
    if (info.health_check_node_port != 0) {
      filter_.Add(S(kNodePortsChain),
                  Args()
                      .Comment(name + " health check node port")
                      .Proto("tcp")
                      .Raw("--dport " + std::to_string(info.health_check_node_port))
                      .Jump("ACCEPT")
                      .Take());
    }

    // Per-service chains, declared in kube-proxy's order: EXT, FW, SVC, SVL, SEP.
    const std::optional<ServicePortName> owner = spn;
    auto add = [&](const std::string& chain, std::string args) {
      nat_.Get(chain, owner).rules.push_back("-A " + chain + " " + args);
    };
    if (uses_ext_chain) nat_.Get(ext_chain, owner);
    if (uses_fw_chain) nat_.Get(fw_chain, owner);
    if (uses_cluster_chain) nat_.Get(svc_chain, owner);
    if (uses_local_chain) nat_.Get(svl_chain, owner);

    if (has_internal) {
      Args masq;
      masq.Comment(name + " cluster IP").Proto(proto).Raw(dst_port(cip));
      if (o_.masquerade_all) {
        add(internal_chain, masq.Jump(kMarkMasqChain).Take());
      } else if (detector_.implemented()) {
        // Off-cluster clients that route the service range to this node get masqueraded so
        // replies come back through it.
        add(internal_chain, masq.Raw(detector_.if_not_local).Jump(kMarkMasqChain).Take());
      }
    }
    if (uses_ext_chain) {
      if (!external_local) {
        // Cluster policy may pick an endpoint on another node: SNAT so replies return here.
        add(ext_chain, Args()
                           .Comment("masquerade traffic for " + name + " external destinations")
                           .Jump(kMarkMasqChain)
                           .Take());
      } else if (uses_cluster_chain) {
        // Pods and the host reaching an external address behave as if they went out to the
        // load balancer and came back: no traffic policy applies to them.
        if (detector_.implemented()) {
          add(ext_chain, Args()
                             .Comment("pod traffic for " + name + " external destinations")
                             .Raw(detector_.if_local)
                             .Jump(svc_chain)
                             .Take());
        }
        // Host traffic gets the external address as source, which the endpoint cannot answer.
        add(ext_chain,
            Args()
                .Comment("masquerade LOCAL traffic for " + name + " external destinations")
                .Raw("-m addrtype --src-type LOCAL")
                .Jump(kMarkMasqChain)
                .Take());
        add(ext_chain, Args()
                           .Comment("route LOCAL traffic for " + name + " external destinations")
                           .Raw("-m addrtype --src-type LOCAL")
                           .Jump(svc_chain)
                           .Take());
      }
      if (has_external) add(ext_chain, Args().Jump(external_policy_chain).Take());
    }
    if (uses_fw_chain) {
      const std::string head = Args().Comment(name + " loadbalancer IP").Take();
      bool allow_from_node = false;
      for (const auto& cidr : source_ranges) {
        add(fw_chain, head + " -s " + cidr.ToString() + " -j " + ext_chain);
        if (node_ip_ && cidr.Contains(*node_ip_)) allow_from_node = true;
      }
      // A VIP often sits on a local interface, so the node's own requests arrive with the VIP
      // as source; let them through when the node itself is allowed.
      if (allow_from_node) {
        for (const auto& lb : lb_ips) {
          add(fw_chain, head + " -s " + lb.ToString() + " -j " + ext_chain);
        }
      }
      // Whatever falls off the end is not DNATed and meets KUBE-PROXY-FIREWALL's DROP.
      add(fw_chain,
          Args()
              .Comment("other traffic to " + name + " will be dropped by KUBE-PROXY-FIREWALL")
              .Take());
    }
    if (uses_cluster_chain) LoadBalance(info, name, svc_chain, cluster, add);
    if (uses_local_chain) LoadBalance(info, name, svl_chain, sel.local, add);

    for (const auto& ep : reachable) {
      const std::string sep = EndpointChain(spn, *ep);
      nat_.Get(sep, owner);
      const std::string comment = Args().Comment(name).Take();
      // Hairpin: a pod reaching itself through the service must be SNATed or it would answer
      // itself directly and the client would drop the reply.
      add(sep, comment + " -s " + ep->ip.ToString() + " -j " + S(kMarkMasqChain));
      Args dnat;
      dnat.Raw(comment);
      if (info.session_affinity_client_ip) dnat.Raw("-m recent --name " + sep + " --set");
      dnat.Proto(proto).Jump("DNAT").Raw("--to-destination " + ep->ToString());
      add(sep, dnat.Take());
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
    const NodePortAddresses npa{o_.node_port_addresses, o_.node_port_primary};
    const bool v6 = family_ == IpFamily::kIPv6;
    if (npa.MatchesAll(family_, state_.node)) {
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
    for (const auto& ip :
         npa.Select(family_, local_addresses_, state_.node, !v6 && o_.localhost_nodeports)) {
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
