#include "proxier/userspace/userspace_dataplane.h"

#include <glog/logging.h>

#include <algorithm>
#include <vector>

#include "proxier/core/node_port_addresses.h"
#include "proxier/userspace/frontend_spec.h"
#include "proxier/userspace/portal_rules.h"

namespace kpx {

UserspaceDataplane::UserspaceDataplane(UserspaceOptions options,
                                       std::unique_ptr<IptablesRunner> runner,
                                       std::unique_ptr<RelayEngine> engine)
    : options_(std::move(options)), runner_(std::move(runner)), engine_(std::move(engine)) {}

UserspaceDataplane::~UserspaceDataplane() {
  // Listeners go with the engine; rules stay, as with every mode on shutdown.
  engine_.reset();
}

Status UserspaceDataplane::Apply(const DesiredState& state, bool full) {
  std::string errors;
  auto note = [&](const std::string& message) {
    LOG(WARNING) << "userspace: " << message;
    if (!errors.empty()) errors += "; ";
    errors += message;
  };
  if (full) needs_full_ = true;
  // The change set covers one step; after a gap or a failure, plan everything again.
  const bool everything = needs_full_ || generation_ == 0 || generation_ + 1 != state.generation;
  bool portals_changed = everything;
  std::set<FrontendKey> touched;
  uint64_t planned = 0;
  if (everything) {
    FrontendPlan plan = PlanFrontends(state, options_.families);
    for (const auto& [key, entry] : frontends_) touched.insert(key);
    for (const auto& [key, spec] : plan.frontends) touched.insert(key);
    plan_ = std::move(plan);
    sctp_ = std::set<ServicePortName>(plan_.skipped_sctp.begin(), plan_.skipped_sctp.end());
    planned_ = state.services;
    planned = state.services.size();
    for (const auto& name : sctp_) {
      if (sctp_logged_.insert(name).second) {
        LOG(WARNING) << "userspace: service port " << name.ToString()
                     << " is SCTP, which the userspace proxy does not relay; skipped";
      }
    }
    std::erase_if(sctp_logged_, [&](const ServicePortName& n) { return !sctp_.contains(n); });
  } else {
    touched = Replan(state, state.changed, portals_changed);
    planned = state.changed.size();
  }
  generation_ = state.generation;

  // Open or update what the plan wants before any rule points at it.
  uint64_t open_failures = 0;
  // Once a frontend's pickers hold a spec's backends, the plan keeps only what the portal rules
  // need: the backends were a second copy of every endpoint (2.4 MiB at 10 000 service ports).
  // A spec whose frontend could not be opened keeps them; that sync fails and the next one
  // plans everything again.
  auto handed_over = [](FrontendSpec& spec) {
    for (auto& list : spec.backends) std::vector<Backend>().swap(list);
  };
  std::vector<FrontendSpec*> to_open;
  for (const FrontendKey& key : touched) {
    auto want = plan_.frontends.find(key);
    if (want == plan_.frontends.end()) continue;
    FrontendSpec& spec = want->second;
    auto it = frontends_.find(key);
    if (it == frontends_.end()) {
      to_open.push_back(&spec);
    } else {
      // Idempotent for an unchanged spec (the rotation and the affinity entries stay), so the
      // touched frontends are updated without keeping a copy of each spec to compare with.
      it->second.frontend->Update(spec);
      handed_over(spec);
      VLOG(4) << "userspace: updated " << key.ToString();
    }
  }
  // Each frontend costs a descriptor. Those beyond the budget wait (no rule points at them, so
  // their traffic is not redirected) and the next sync tries again; taking the last descriptors
  // instead would make the portal restores below, and every relayed connection, fail.
  uint64_t unopened = 0;
  if (!to_open.empty()) {
    const DescriptorBudget budget = engine_->Budget();
    if (to_open.size() > budget.frontends) {
      unopened = to_open.size() - budget.frontends;
      note("out of file descriptors: " + std::to_string(plan_.frontends.size()) +
           " service ports need a listener each, " + std::to_string(frontends_.size()) +
           " are open, " + std::to_string(unopened) + " left without one; " +
           std::to_string(budget.open) + " descriptors are open of the open-file limit " +
           std::to_string(budget.soft_limit) + " (hard limit " + std::to_string(budget.hard_limit) +
           "), " + std::to_string(budget.reserve) +
           " kept free for connections and syncs; raise the hard limit (LimitNOFILE, ulimit -Hn)");
      to_open.resize(budget.frontends);
    }
  }
  for (FrontendSpec* spec : to_open) {
    auto frontend = std::make_shared<Frontend>(*spec, options_.max_connections_per_service,
                                               options_.limit_log_interval);
    auto port = engine_->Open(frontend);
    if (!port.ok()) {
      ++open_failures;
      note("cannot listen for " + spec->key.ToString() + ": " + port.status().message());
      continue;
    }
    VLOG(4) << "userspace: " << spec->key.ToString() << " listens on port " << *port;
    frontends_.emplace(spec->key, Entry{std::move(frontend), *port});
    handed_over(*spec);
    portals_changed = true;  // a new listener port to redirect to
  }

  // --nodeport-addresses: NodePort portals on the selected interface addresses only.
  const NodePortAddresses npa{options_.node_port_addresses, options_.node_port_primary};
  std::vector<IpAddress> local =
      options_.local_address_lister ? options_.local_address_lister() : state.node.addresses;
  if (local.empty()) local = state.node.addresses;  // a failed listing; see IptablesDataplane
  const bool render = portals_changed || state.node_changed || local != last_local_;
  last_local_ = local;

  std::vector<BoundFrontend> bound;
  if (render) {
    for (const auto& [key, entry] : frontends_) {
      auto it = plan_.frontends.find(key);
      if (it == plan_.frontends.end()) continue;  // being removed: no portals
      bound.push_back(BoundFrontend{&it->second, entry.port});
    }
  }

  bool rules_ok = true;
  uint64_t restore_failures = 0;
  for (IpFamily family : render ? options_.families : std::vector<IpFamily>{}) {
    std::optional<ContentDigest::Digest>& applied = applied_digest_[static_cast<int>(family)];
    std::optional<std::vector<IpAddress>> node_port_ips;
    if (!npa.MatchesAll(family, state.node)) {
      node_port_ips = npa.Select(family, local, state.node, false);
    }
    const LocalTrafficDetector pod_traffic =
        LocalTrafficDetector::For(options_.local_detect, family, options_.cluster_cidrs,
                                  state.node.pod_cidrs, options_.local_interface);
    const std::string text = RenderPortalRules(family, bound, node_port_ips, pod_traffic);
    const ContentDigest::Digest rendered = ContentDigest::Of(text);
    if (!needs_full_ && applied == rendered) continue;
    if (needs_full_) {
      for (const JumpRule& jump : PortalJumpRules()) {
        auto ensured = runner_->EnsureJump(family, jump);
        if (!ensured.ok()) {
          rules_ok = false;
          note(std::string(IpFamilyName(family)) + " jump: " + ensured.status().message());
        }
      }
    }
    Status st = runner_->Restore(family, text);
    if (!st.ok()) {
      rules_ok = false;
      ++restore_failures;
      applied.reset();
      note(std::string(IpFamilyName(family)) + " portal restore: " + st.message());
      continue;
    }
    applied = rendered;
  }

  // Close what vanished only once no rule of any family points at it any more.
  if (rules_ok) {
    for (const FrontendKey& key : touched) {
      auto it = frontends_.find(key);
      if (it == frontends_.end() || plan_.frontends.contains(key)) continue;
      VLOG(4) << "userspace: closing " << key.ToString();
      engine_->Close(it->second.frontend);
      frontends_.erase(it);
    }
  }
  needs_full_ = !rules_ok || open_failures > 0 || unopened > 0;
  VLOG(2) << "userspace: synced " << frontends_.size() << " frontends"
          << (errors.empty() ? "" : " with errors");
  {
    std::lock_guard lock(counters_mu_);
    ++own_.syncs;
    own_.restore_failures += restore_failures;
    own_.open_failures += open_failures;
    own_.fd_shortages += unopened > 0 ? 1 : 0;
    own_.unopened = unopened;
    own_.sctp_skipped = sctp_.size();
    own_.frontends = frontends_.size();
    own_.ports_planned += planned;
  }
  if (!errors.empty()) return Status::Error("userspace sync: " + errors);
  return Status::Ok();
}

std::set<FrontendKey> UserspaceDataplane::Replan(const DesiredState& state,
                                                 const std::set<ServicePortName>& names,
                                                 bool& portals_changed) {
  std::set<FrontendKey> touched;
  for (const ServicePortName& name : names) {
    auto now = state.services.find(name);
    auto was = planned_.find(name);
    const bool present = now != state.services.end();
    if (present && was != planned_.end() && was->second == now->second) continue;
    FrontendPlan port;
    if (present) PlanServicePortFrontends(name, *now->second, options_.families, port);
    for (FrontendRole role : {FrontendRole::kInternal, FrontendRole::kExternal}) {
      const FrontendKey key{name, role};
      auto old_spec = plan_.frontends.find(key);
      auto new_spec = port.frontends.find(key);
      const bool had = old_spec != plan_.frontends.end();
      const bool has = new_spec != port.frontends.end();
      if (!had && !has) continue;
      touched.insert(key);
      if (had != has || old_spec->second.portals != new_spec->second.portals) {
        portals_changed = true;
      }
      if (had) plan_.frontends.erase(old_spec);
      if (has) plan_.frontends.insert(port.frontends.extract(new_spec));
    }
    const bool sctp = !port.skipped_sctp.empty();
    if (sctp) {
      sctp_.insert(name);
      if (sctp_logged_.insert(name).second) {
        LOG(WARNING) << "userspace: service port " << name.ToString()
                     << " is SCTP, which the userspace proxy does not relay; skipped";
      }
    } else {
      sctp_.erase(name);
      sctp_logged_.erase(name);
    }
    if (present) {
      planned_.insert_or_assign(name, now->second);
    } else {
      planned_.erase(name);
    }
  }
  return touched;
}

Status UserspaceDataplane::Cleanup() {
  std::string errors;
  auto note = [&](const Status& st) {
    if (st.ok()) return;
    if (!errors.empty()) errors += "; ";
    errors += st.message();
  };
  for (IpFamily family : options_.families) {
    for (const JumpRule& jump : PortalJumpRules()) {
      auto deleted = runner_->DeleteJump(family, jump);
      if (!deleted.ok()) note(deleted.status());
    }
    note(runner_->DeleteChains(
        family, "nat", {std::string(kPortalsContainerChain), std::string(kPortalsHostChain)}));
    note(runner_->DeleteChains(family, "filter", {std::string(kPortalsFirewallChain)}));
    applied_digest_[static_cast<int>(family)].reset();
  }
  for (auto& [key, entry] : frontends_) engine_->Close(entry.frontend);
  frontends_.clear();
  needs_full_ = true;
  {
    std::lock_guard lock(counters_mu_);
    own_.frontends = 0;
  }
  if (!errors.empty()) return Status::Error("userspace cleanup: " + errors);
  return Status::Ok();
}

UserspaceCounters UserspaceDataplane::counters() const {
  UserspaceCounters c = engine_->Counters();
  std::lock_guard lock(counters_mu_);
  c.syncs = own_.syncs;
  c.restore_failures = own_.restore_failures;
  c.open_failures = own_.open_failures;
  c.fd_shortages = own_.fd_shortages;
  c.unopened = own_.unopened;
  c.sctp_skipped = own_.sctp_skipped;
  c.frontends = own_.frontends;
  c.ports_planned = own_.ports_planned;
  return c;
}

uint16_t UserspaceDataplane::ListenPort(const FrontendKey& key) const {
  auto it = frontends_.find(key);
  return it == frontends_.end() ? 0 : it->second.port;
}

}  // namespace kpx
