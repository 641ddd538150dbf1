#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proxier/core/desired_state.h"
#include "proxier/ipvs/ipvs_destination.h"
#include "proxier/ipvs/ipvs_destination_list.h"
#include "proxier/ipvs/ipvs_options.h"
#include "proxier/ipvs/ipvs_service.h"

namespace kpx {

// Pure reconciliation for the IPVS mode: DesiredState -> virtual servers -> minimal operations.

// What kind of entry point a virtual server is; decides which endpoint set it uses and which
// ipsets/iptables rules cover it.
enum class VirtualServerKind { kClusterIp, kExternalIp, kLoadBalancer, kNodePort };

struct DesiredVirtualServer {
  IpvsService service;
  std::map<IpvsDestinationKey, IpvsDestination> dests;
  VirtualServerKind kind = VirtualServerKind::kClusterIp;
  ServicePortName owner;
  bool operator==(const DesiredVirtualServer&) const = default;
};

struct DesiredIpvs {
  std::map<IpvsServiceKey, DesiredVirtualServer> servers;
  // Addresses the dummy device must hold: cluster, external and load-balancer IPs.
  std::set<IpAddress> bound_addresses;
};

// One virtual server of ObservedIpvs: the service, and its destinations if kpx listed them
// (only the services kpx owns are listed). One node for both: the dataplane keeps one for every
// virtual server between syncs. Without a service the entry only holds destinations kpx saw
// added (a plan ignores them: the service counts as absent).
struct ObservedServer {
  std::optional<IpvsService> service;
  IpvsDestinationList dests;
};

// What the kernel holds (or, between full syncs, what kpx last left there).
struct ObservedIpvs {
  std::map<IpvsServiceKey, ObservedServer> servers;  // every service, kpx's or not
  std::set<IpAddress> bound_addresses;               // on the dummy device
};

// The local addresses NodePorts answer on: `local` minus loopback and IPv6 link-local, kept only
// inside the --nodeport-addresses CIDRs of their family, or on `node`'s primary IP of the family
// for "primary" (NodePortAddresses: a family with nothing in force keeps all its addresses).
// Sorted, without duplicates.
std::vector<IpAddress> SelectNodePortAddresses(const std::vector<IpAddress>& local,
                                               const IpvsOptions& options,
                                               const NodeState& node = {});

// One service port's share of DesiredIpvs. Within a port the first claim of a key wins (a
// ClusterIP that is also listed as an external IP stays a ClusterIP server).
struct ServicePortIpvs {
  std::map<IpvsServiceKey, DesiredVirtualServer> servers;
  std::set<IpAddress> bound_addresses;
  bool operator==(const ServicePortIpvs&) const = default;
};

// What one service port contributes; `node_port_ips` must already be the output of
// SelectNodePortAddresses. BuildDesiredIpvs is this function folded over every service port.
ServicePortIpvs BuildServicePortIpvs(const ServicePortState& sp, const IpvsOptions& options,
                                     const std::vector<IpAddress>& node_port_ips);

// kube-proxy's IPVS layout: one virtual server per (ClusterIP, port, protocol), per external IP,
// per load-balancer ingress IP, and per node address for a NodePort; ClusterIP servers use the
// endpoints the internal traffic policy selects, the others those of the external policy. The
// scheduler comes from the options; ClientIP affinity becomes the persistent flag with its
// timeout. `node_port_ips` are filtered through SelectNodePortAddresses. Families not in
// options.families are skipped.
DesiredIpvs BuildDesiredIpvs(const DesiredState& state, const IpvsOptions& options,
                             const std::vector<IpAddress>& node_port_ips);

// Whether an existing virtual server is kpx's to change or delete: its address is on the dummy
// device (now, or about to be), or it sits on an address used for NodePorts with a port in the
// NodePort range.
bool OwnsVirtualServer(const IpvsServiceKey& key, const std::set<IpAddress>& dummy_addresses,
                       const std::set<IpAddress>& node_port_ips, const IpvsOptions& options);

enum class IpvsOpKind {
  kAddService,
  kUpdateService,
  kAddDest,
  kUpdateDest,  // weight/method drifted, or a draining destination is wanted again
  kBindAddress,
  kRetireDest,  // no longer wanted: handed to graceful termination, not deleted outright
  kDeleteService,
  kUnbindAddress,
};

struct IpvsOp {
  IpvsOpKind kind = IpvsOpKind::kAddService;
  IpvsService service;   // the service (or its key) the op is about
  IpvsDestination dest;  // dest ops
  IpAddress address;     // bind/unbind
  // "add-service TCP/10.0.0.1:80 rr", "retire-dest TCP/10.0.0.1:80 10.1.0.5:8080", ...
  std::string ToString() const;
  bool operator==(const IpvsOp&) const = default;
};

// The minimal operations that turn `observed` into `desired`, in a safe order: services and
// destinations are added (and addresses bound) before anything is retired, deleted or unbound.
// Within a kind, ordered by key, so plans are deterministic. Only owned services are touched.
std::vector<IpvsOp> PlanIpvs(const DesiredIpvs& desired, const ObservedIpvs& observed,
                             const std::set<IpAddress>& node_port_ips, const IpvsOptions& options);

// True when the kernel's service already matches what kpx wants (ignores HASHED, and the
// timeout of non-persistent services).
bool ServiceMatches(const IpvsService& want, const IpvsService& have);

}  // namespace kpx
