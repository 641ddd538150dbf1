#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/ip_address.h"
#include "base/protocol.h"
#include "proxier/core/desired_state.h"

namespace kpx {

// The ipsets kube-proxy's IPVS mode matches in its few iptables rules, and their contents.
// IPv6 sets are named "KUBE-6-..." (kube-proxy's convention); bitmap:port sets are shared.
inline constexpr char kClusterIpSet[] = "KUBE-CLUSTER-IP";
inline constexpr char kLoopBackSet[] = "KUBE-LOOP-BACK";
inline constexpr char kExternalIpSet[] = "KUBE-EXTERNAL-IP";
inline constexpr char kExternalIpLocalSet[] = "KUBE-EXTERNAL-IP-LOCAL";
inline constexpr char kLoadBalancerSet[] = "KUBE-LOAD-BALANCER";
inline constexpr char kLoadBalancerLocalSet[] = "KUBE-LOAD-BALANCER-LOCAL";
inline constexpr char kLoadBalancerFwSet[] = "KUBE-LOAD-BALANCER-FW";
inline constexpr char kLoadBalancerSourceCidrSet[] = "KUBE-LOAD-BALANCER-SOURCE-CIDR";
inline constexpr char kNodePortTcpSet[] = "KUBE-NODE-PORT-TCP";
inline constexpr char kNodePortLocalTcpSet[] = "KUBE-NODE-PORT-LOCAL-TCP";
inline constexpr char kNodePortUdpSet[] = "KUBE-NODE-PORT-UDP";
inline constexpr char kNodePortLocalUdpSet[] = "KUBE-NODE-PORT-LOCAL-UDP";
// SCTP NodePorts: hash:ip,port sets of NodePort address . sctp:port, as kube-proxy keeps them
// (the kernel's bitmap:port matches only TCP and UDP packets).
inline constexpr char kNodePortSctpSet[] = "KUBE-NODE-PORT-SCTP-HASH";
inline constexpr char kNodePortLocalSctpSet[] = "KUBE-NODE-PORT-LOCAL-SCTP-HASH";

// One set's definition and entries, entries spelled the way "ipset save" prints them.
struct IpsetContent {
  std::string type;     // "hash:ip,port", "bitmap:port", ...
  std::string options;  // rest of the create line: family, range, comment
  std::set<std::string> entries;
  bool operator==(const IpsetContent&) const = default;
};
using IpsetMap = std::map<std::string, IpsetContent>;

// The set name for a family: "KUBE-CLUSTER-IP" or "KUBE-6-CLUSTER-IP"; bitmap sets unchanged.
std::string IpsetName(const std::string& base, IpFamily family);

// One entry of one set, as a restore line spells it after the verb: "KUBE-CLUSTER-IP
// 10.96.0.10,tcp:80" ("add " + it adds it, "del " + it deletes it).
using IpsetEntryLine = std::string;

// One entry of one of kpx's sets, in binary: kept by the hundred thousand between syncs (one per
// local endpoint in KUBE-LOOP-BACK), so it is spelled as text only when written. Which members
// mean something depends on the set's type: hash:ip,port uses ip, protocol and port;
// hash:ip,port,ip the same (its second ip is the first: kube-proxy's hairpin entry);
// hash:ip,port,net also net; bitmap:port only port (the NodePort sets, shared by both
// families, so `set` is the same for either).
struct IpsetEntry {
  uint8_t set = 0;  // which set and family: see IpsetEntrySet
  Protocol protocol = Protocol::kTCP;
  uint16_t port = 0;
  IpAddress ip;
  Cidr net;

  // "KUBE-CLUSTER-IP", "KUBE-6-LOOP-BACK", ...
  std::string SetName() const;
  // The entry as ipset prints it: "10.96.0.10,tcp:80", "30080", ...
  std::string Member() const;
  // SetName() + " " + Member().
  IpsetEntryLine Line() const { return SetName() + " " + Member(); }
  auto operator<=>(const IpsetEntry&) const = default;
};

// The `set` value of `base` (one of the k...Set names above) in `family`; the same for both
// families for the bitmap:port sets. Every value is below kIpsetEntrySetCodes.
uint8_t IpsetEntrySet(const char* base, IpFamily family);
inline constexpr size_t kIpsetEntrySetCodes = 32;
// Which sets hold at least one entry, by IpsetEntrySet value.
using IpsetPresence = std::bitset<kIpsetEntrySetCodes>;
// Whether `set` is a bitmap:port set (its entries carry only a port).
bool IpsetEntrySetIsBitmap(uint8_t set);
// The family of a hash set's addresses.
IpFamily IpsetEntrySetFamily(uint8_t set);

// The entries one service port puts into the sets of `family` (possibly with repeats; several
// service ports may also share an entry, e.g. KUBE-LOOP-BACK for a pod behind two services).
// `node_port_ips` (either family; those of `family` are used) are the addresses NodePorts answer
// on, for the SCTP NodePort sets.
std::vector<IpsetEntry> ServicePortIpsetEntries(const ServicePortState& sp, IpFamily family,
                                                const std::vector<IpAddress>& node_port_ips = {});

// Every set kpx uses in `family`, filled from the state (all of them, empty ones too, since the
// iptables rules reference each).
IpsetMap RenderIpsets(const DesiredState& state, IpFamily family,
                      const std::vector<IpAddress>& node_port_ips = {});

// Every set name kpx may own, across families (for cleanup and for parsing saves).
std::vector<std::string> AllIpsetNames();

// Parses "ipset save" output, keeping only kpx's sets.
IpsetMap ParseIpsetSave(const std::string& text);

// "ipset restore -exist" text turning `have` into `want`: create lines for every wanted set, then
// add/del lines for the entry differences. Empty when nothing differs. Sets in `have` that are no
// longer wanted are left alone (they are destroyed only by Cleanup, after the rules go).
std::string IpsetRestoreText(const IpsetMap& want, const IpsetMap& have);

}  // namespace kpx
