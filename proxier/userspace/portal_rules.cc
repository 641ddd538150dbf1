#include "proxier/userspace/portal_rules.h"

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

std::string RenderPortalRules(IpFamily family, const std::vector<BoundFrontend>& frontends) {
  const std::string container(kPortalsContainerChain);
  const std::string host(kPortalsHostChain);
  const std::string firewall(kPortalsFirewallChain);
  std::string container_rules;
  std::string host_rules;
  std::string firewall_rules;
  for (const BoundFrontend& f : frontends) {
    for (const PortalDestination& p : f.spec->portals) {
      if (p.family != family) continue;
      if (p.container && !p.source_ranges.empty()) {
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
