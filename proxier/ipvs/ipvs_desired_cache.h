#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "proxier/core/desired_state.h"
#include "proxier/ipvs/ipset_entry_counts.h"
#include "proxier/ipvs/ipvs_ipsets.h"
#include "proxier/ipvs/ipvs_options.h"
#include "proxier/ipvs/ipvs_reconciler.h"

namespace kpx {

// What each service port contributes to the IPVS mode (virtual servers, addresses to bind, ipset
// entries), tracked between syncs and keyed by ServicePortName, so an incremental sync rebuilds
// only the ports that changed. Each port keeps the ServicePortState its references were counted
// from: the same pointer in a later snapshot is the same entry (DesiredState's contract), and
// nothing is rebuilt; a changed port's old contribution is derived again from the old state to
// be uncounted (a pure function of it and the NodePort addresses, which change only by Rebuild).
//
// Shared things are reference counted, so a ClusterIP used by two services stays wanted until
// the last one leaves, and an ipset entry two ports produce (a pod behind two services in
// KUBE-LOOP-BACK) is deleted only when neither wants it. A virtual server two ports claim goes to
// the smallest ServicePortName, as BuildDesiredIpvs decides ("first in sorted order").
//
// Pure data, no I/O. Not thread-safe (the sync thread only).
class IpvsDesiredCache {
 public:
  // What an Update touched: the plan looks at these keys and addresses only.
  struct Touched {
    std::set<IpvsServiceKey> servers;
    std::set<IpAddress> addresses;
    // Restore lines for the ipset entries whose presence flipped ("add KUBE-CLUSTER-IP ...",
    // "del ..."), deletions first; empty when no entry changed. Update only: see Rebuild.
    std::string ipset_lines;
    size_t ipset_changes = 0;
    // The ports rebuilt, each with the state it was built from before (null: it is new).
    std::vector<std::pair<ServicePortName, ServicePortStatePtr>> replaced;
  };

  explicit IpvsDesiredCache(IpvsOptions options) : options_(std::move(options)) {}

  // The NodePort addresses (SelectNodePortAddresses' output) entries are built with. Returns
  // whether they differ from the previous ones; if so, every entry is stale and the caller must
  // Rebuild before the next Update.
  bool SetNodePortIps(std::vector<IpAddress> ips);

  // Forgets everything and builds every service port of `state` (full syncs, new NodePort
  // addresses). It reports no ipset lines: after a rebuild the caller brings the sets to
  // IpsetLines() whole (it reads the kernel's sets anyway, and a rebuild's difference would be
  // every entry spelled out at once), and no servers or addresses (it touched all of them), only
  // the ports replaced.
  Touched Rebuild(const DesiredState& state);

  // Rebuilds the entries of `names` from `state` (a name `state` lacks is dropped); an entry
  // whose ServicePortState pointer is unchanged is kept.
  Touched Update(const DesiredState& state, const std::set<ServicePortName>& names);

  // Every name with an entry or in `state` (for a sync that must not trust a change set).
  std::set<ServicePortName> AllNames(const DesiredState& state) const;

  // The winning claim on `key`, or nothing when no port wants it.
  std::optional<DesiredVirtualServer> Find(const IpvsServiceKey& key) const;
  bool WantsServer(const IpvsServiceKey& key) const { return claims_.contains(key); }
  bool WantsAddress(const IpAddress& ip) const { return address_refs_.contains(ip); }
  // The whole desired IPVS state, equal to BuildDesiredIpvs over the same snapshot.
  DesiredIpvs Assemble() const;
  // The ipset entry lines wanted now, for tests.
  std::set<IpsetEntryLine> IpsetLines() const;
  // The sets holding at least one wanted entry (the iptables rules leave the others out).
  IpsetPresence ipset_presence() const { return ipset_refs_.Presence(); }

  size_t server_count() const { return claims_.size(); }
  size_t port_count() const { return ports_.size(); }

 private:
  // What a port contributes, derived again from its state whenever needed rather than kept:
  // the derivation is cheap per port and deterministic, and keeping it for every port cost
  // more memory than the rest of the dataplane (measured at 10 000 x 10).
  struct Contribution {
    ServicePortIpvs ipvs;
    std::vector<IpsetEntry> ipset;  // every family, deduplicated
  };
  Contribution Derive(const ServicePortState& state) const;

  // Adds (+1) or drops (-1) a contribution's references, noting in `touched` (if given) the
  // servers and addresses it covers and, in `ipset_before` (if given), whether each ipset line
  // was present before its first change. `name` is the name inside a state ports_ holds: claims
  // keep its address.
  void Count(const Contribution& c, const ServicePortName& name, int delta, Touched* touched,
             std::map<IpsetEntry, bool>* ipset_before);

  // Every port claiming one virtual server key, by the name inside its state (alive while
  // ports_ holds it). Nearly always one claimant, so the others live in a vector that is
  // usually empty, not in a set node per claim.
  struct Claims {
    const ServicePortName* first = nullptr;    // the smallest name: the winner
    std::vector<const ServicePortName*> rest;  // the others, sorted by name
  };
  void Claim(const IpvsServiceKey& key, const ServicePortName* owner);
  void Unclaim(const IpvsServiceKey& key, const ServicePortName& owner);
  const ServicePortState& StateOf(const ServicePortName& name) const { return **ports_.find(name); }

  // Orders states by their name (the name the snapshot keys them by), and finds them by name.
  struct ByName {
    using is_transparent = void;
    static const ServicePortName& N(const ServicePortStatePtr& s) { return s->info.name; }
    static const ServicePortName& N(const ServicePortName& n) { return n; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return N(a) < N(b);
    }
  };

  // Turns the entries whose presence flipped into restore lines in `touched`.
  static void Lines(const std::vector<IpsetEntry>& adds, const std::vector<IpsetEntry>& dels,
                    Touched& touched);

  IpvsOptions options_;
  std::vector<IpAddress> node_port_ips_;
  // The state each port's references were counted from; its name is the key, held once.
  std::set<ServicePortStatePtr, ByName> ports_;
  std::map<IpvsServiceKey, Claims> claims_;
  std::map<IpAddress, uint32_t> address_refs_;
  IpsetEntryCounts ipset_refs_;
};

}  // namespace kpx
