#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "k8s-watch/objects/content_digest.h"
#include "proxier/dataplane.h"
#include "proxier/netfilter/iptables_runner.h"
#include "proxier/userspace/frontend.h"
#include "proxier/userspace/relay_engine.h"
#include "proxier/userspace/userspace_counters.h"
#include "proxier/userspace/userspace_options.h"

namespace kpx {

// The userspace mode's Dataplane: the kernel only redirects, kpx moves the bytes.
//  - Every TCP/UDP service port gets a frontend (two when its external traffic policy selects a
//    different endpoint set than its internal one) with listeners on a port the engine picks;
//    SCTP ports are logged and counted, not proxied.
//  - Portal rules (nat REDIRECT in KPX-PORTALS-CONTAINER from PREROUTING and KPX-PORTALS-HOST
//    from OUTPUT) send ClusterIP, NodePort, externalIP and load-balancer traffic to them; one
//    --noflush restore per family replaces both chains whenever the rendering changes.
//  - Order keeps traffic flowing: new listeners open before rules point at them, removed ones
//    close only after every family's rules stopped pointing at them. Endpoint and affinity
//    changes are swapped into the live frontend; established connections are never touched.
//  - A service port without endpoints keeps its listener: connections are accepted and reset at
//    once (the client sees ECONNRESET rather than ECONNREFUSED), datagrams are dropped.
//  - After a failed sync the next one re-applies everything and re-ensures the jumps.
//  - Work follows the change set: an incremental sync re-plans only the service ports in
//    state.changed, touches only their frontends, and renders the portal rules only when a
//    portal, a listener, the node or its addresses changed (an endpoint change writes nothing).
// Apply/Cleanup are called from the sync thread only; counters() from any thread.
class UserspaceDataplane : public Dataplane {
 public:
  UserspaceDataplane(UserspaceOptions options, std::unique_ptr<IptablesRunner> runner,
                     std::unique_ptr<RelayEngine> engine);
  ~UserspaceDataplane() override;

  std::string_view Name() const override { return "userspace"; }
  Status Apply(const DesiredState& state, bool full) override;
  Status Cleanup() override;

  UserspaceCounters counters() const;
  // The listener port of a frontend, 0 when it has none. For tests and diagnostics.
  uint16_t ListenPort(const FrontendKey& key) const;

 private:
  struct Entry {
    std::shared_ptr<Frontend> frontend;
    uint16_t port = 0;
  };

  UserspaceOptions options_;
  std::unique_ptr<IptablesRunner> runner_;
  std::unique_ptr<RelayEngine> engine_;
  // Re-plans the ports in `names` into plan_; returns the frontend keys they cover (before and
  // after) and whether any portal appeared, vanished or changed.
  std::set<FrontendKey> Replan(const DesiredState& state, const std::set<ServicePortName>& names,
                               bool& portals_changed);

  std::map<FrontendKey, Entry> frontends_;
  // The plan as of the last sync, kept up to date port by port, and the states it came from.
  FrontendPlan plan_;
  std::set<ServicePortName> sctp_;
  ServiceMap planned_;
  uint64_t generation_ = 0;
  std::vector<IpAddress> last_local_;
  // SHA-256 of the portal text last restored, by IpFamily; none: unknown, restore again. A digest,
  // not the text: at 10 000 service ports the two texts were 3 MiB kept only for this comparison.
  std::array<std::optional<ContentDigest::Digest>, 2> applied_digest_;
  bool needs_full_ = true;
  std::set<ServicePortName> sctp_logged_;

  mutable std::mutex counters_mu_;
  UserspaceCounters own_;  // the dataplane's part, under counters_mu_
};

}  // namespace kpx
