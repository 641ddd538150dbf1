#include "proxier/userspace/portal_rules.h"

#include <map>
#include <sstream>

#include "proxier/netfilter/restore_text.h"

namespace kpx {

namespace {

std::vector<std::string> PortalArgs(const FrontendSpec& spec, const PortalDestination& p,
                                    uint16_t listen_port, const Cidr* source = nullptr) {
  const std::string proto(ProtocolLowerName(spec.protocol));
  std::vector<std::string> args = {"-m", "comment", "--comment",
                                   spec.key.ToString() + " " + p.kind};
  if (source) args.insert(args.end(), {"-s", source->ToString()});
  if (p.ip) {
    args.insert(args.end(),
                {"-d", p.ip->ToString() + (p.family == IpFamily::kIPv4 ? "/32" : "/128")});
  } else {
    args.insert(args.end(), {"-m", "addrtype", "--dst-type", "LOCAL"});
  }
  args.insert(args.end(), {"-p", proto, "-m", proto, "--dport", std::to_string(p.port), "-j",
                           "REDIRECT", "--to-ports", std::to_string(listen_port)});
  return args;
}

}  // namespace

std::string RenderPortalRules(IpFamily family, const std::vector<BoundFrontend>& frontends,
                              const std::optional<std::vector<IpAddress>>& node_port_ips,
                              const LocalTrafficDetector& pod_traffic) {
  // The internal frontend's listener per service, for the pod-traffic short circuit.
  std::map<ServicePortName, uint16_t> internal_port;
  for (const BoundFrontend& f : frontends) {
    if (f.spec->key.role == FrontendRole::kInternal) {
      internal_port[f.spec->key.service] = f.listen_port;
    }
  }
  std::vector<std::string> pod_match;
  if (pod_traffic.implemented()) {
    std::istringstream words(pod_traffic.if_local);
    for (std::string w; words >> w;) pod_match.push_back(w);
  }
  const std::string container(kPortalsContainerChain);
  const std::string host(kPortalsHostChain);
  const std::string firewall(kPortalsFirewallChain);
  std::string container_rules;
  std::string host_rules;
  std::string firewall_rules;
  for (const BoundFrontend& f : frontends) {
    // A NodePort portal under --nodeport-addresses becomes one portal per selected address.
    std::vector<PortalDestination> portals;
    for (const PortalDestination& p : f.spec->portals) {
      if (p.family != family) continue;
      if (p.ip || !node_port_ips) {
        portals.push_back(p);
        continue;
      }
      for (const IpAddress& ip : *node_port_ips) {
        PortalDestination one = p;
        one.ip = ip;
        portals.push_back(one);
      }
    }
    const auto internal = internal_port.find(f.spec->key.service);
    const bool short_circuit = !pod_match.empty() && f.spec->key.role == FrontendRole::kExternal &&
                               internal != internal_port.end();
    for (const PortalDestination& p : portals) {
      // With loadBalancerSourceRanges the ranges decide first (kube-proxy's firewall chain
      // precedes the short circuit); pods then take the external portal like anyone else.
      if (short_circuit && p.container && !p.restricted) {
        std::vector<std::string> args = PortalArgs(*f.spec, p, internal->second);
        args[3] = f.spec->key.service.ToString() + " pod traffic for " + p.kind;
        args.insert(args.begin() + 4, pod_match.begin(), pod_match.end());
        container_rules += "-A " + container + " " + RestoreText::Join(args) + "\n";
      }
      if (p.container && p.restricted) {
        for (const Cidr& range : p.source_ranges) {
          container_rules += "-A " + container + " " +
                             RestoreText::Join(PortalArgs(*f.spec, p, f.listen_port, &range)) +
                             "\n";
        }
        const std::string proto(ProtocolLowerName(f.spec->protocol));
        firewall_rules +=
            "-A " + firewall + " " +
            RestoreText::Join(
                {"-m", "comment", "--comment",
                 f.spec->key.ToString() + " " + p.kind + " outside loadBalancerSourceRanges", "-d",
                 Cidr::Host(*p.ip).ToString(), "-p", proto, "-m", proto, "--dport",
                 std::to_string(p.port), "-j", "DROP"}) +
            "\n";
      } else if (p.container) {
        container_rules += "-A " + container + " " +
                           RestoreText::Join(PortalArgs(*f.spec, p, f.listen_port)) + "\n";
      }
      if (p.host) {
        host_rules +=
            "-A " + host + " " + RestoreText::Join(PortalArgs(*f.spec, p, f.listen_port)) + "\n";
      }
    }
  }
  return "*nat\n:" + container + " - [0:0]\n:" + host + " - [0:0]\n" + container_rules +
         host_rules + "COMMIT\n*filter\n:" + firewall + " - [0:0]\n" + firewall_rules + "COMMIT\n";
}

std::vector<JumpRule> PortalJumpRules() {
  const std::vector<std::string> comment = {"-m", "comment", "--comment",
                                            "kpx userspace service portals"};
  return {
      {"nat", "PREROUTING", comment, std::string(kPortalsContainerChain), true},
      {"nat", "OUTPUT", comment, std::string(kPortalsHostChain), true},
      {"filter", "FORWARD", comment, std::string(kPortalsFirewallChain), true},
  };
}

}  // namespace kpx
