#include "proxier/ipvs/ipvs_dataplane.h"

#include <glog/logging.h>

#include <algorithm>

#include "proxier/ipvs/ipvs_iptables_rules.h"

namespace kpx {
namespace {

// kube-proxy's IPVS sysctls: conntrack so iptables can masquerade IPVS traffic; no connection
// reuse of stale entries (avoids a 1 s stall on port reuse); drop connections to deleted
// destinations and quiescent persistence templates so clients re-balance; forwarding.
const std::pair<const char*, const char*> kSysctls[] = {
    {"net/ipv4/vs/conntrack", "1"},
    {"net/ipv4/vs/conn_reuse_mode", "0"},
    {"net/ipv4/vs/expire_nodest_conn", "1"},
    {"net/ipv4/vs/expire_quiescent_template", "1"},
    {"net/ipv4/ip_forward", "1"},
};

const std::pair<const char*, const char*> kStrictArpSysctls[] = {
    {"net/ipv4/conf/all/arp_ignore", "1"},
    {"net/ipv4/conf/all/arp_announce", "2"},
};

bool HasFamily(const IpvsOptions& o, IpFamily f) {
  return std::find(o.families.begin(), o.families.end(), f) != o.families.end();
}

}  // namespace

IpvsDataplane::IpvsDataplane(IpvsOptions options, IpvsSeams seams, Clock clock)
    : options_(std::move(options)),
      seams_(std::move(seams)),
      clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }),
      termination_(seams_.ipvs.get(), options_.graceful_termination_bound, clock_),
      conntrack_cleaner_(seams_.conntrack.get()),
      cache_(options_) {}

Status IpvsDataplane::Initialize() {
  auto ensure = [&](const char* path, const char* value) {
    auto cur = seams_.sysctl->Get(path);
    if (cur.ok() && *cur == value) return Status::Ok();
    if (auto s = seams_.sysctl->Set(path, value); !s.ok()) return s;
    LOG(INFO) << "ipvs: set sysctl " << path << "=" << value;
    return Status::Ok();
  };
  if (options_.set_sysctls) {
    for (const auto& [path, value] : kSysctls) {
      if (auto s = ensure(path, value); !s.ok()) return s;
    }
  }
  // Independent of set_sysctls: it is its own flag, and kube-proxy applies it whenever asked.
  if (options_.strict_arp) {
    for (const auto& [path, value] : kStrictArpSysctls) {
      if (auto s = ensure(path, value); !s.ok()) return s;
    }
  }
  if (auto s = seams_.link->EnsureDummy(options_.dummy_device, options_.dummy_up); !s.ok()) {
    return s.ToStatus();
  }
  if (!options_.timeouts.empty()) {
    // Only when they differ, so a restarted kpx leaves the kernel alone.
    auto cur = seams_.ipvs->GetTimeouts();
    const IpvsTimeouts& t = options_.timeouts;
    const bool same = cur.ok() && (t.tcp == 0 || t.tcp == cur->tcp) &&
                      (t.tcp_fin == 0 || t.tcp_fin == cur->tcp_fin) &&
                      (t.udp == 0 || t.udp == cur->udp);
    if (!same) {
      if (auto s = seams_.ipvs->SetTimeouts(t); !s.ok()) return s.ToStatus();
    }
  }
  initialized_ = true;
  return Status::Ok();
}

Result<std::vector<IpAddress>> IpvsDataplane::LocalAddresses() {
  auto all = seams_.link->ListAllAddresses();
  if (!all.ok()) return all.status();
  std::vector<IpAddress> out;
  for (const auto& a : *all) {
    if (a.interface != options_.dummy_device) out.push_back(a.address);
  }
  return out;
}

Status IpvsDataplane::Observe(const std::vector<IpAddress>& node_port_ips,
                              const std::vector<IpAddress>& dummy_addresses) {
  ObservedIpvs o;
  for (const IpAddress& ip : dummy_addresses) {
    if (HasFamily(options_, ip.family())) o.bound_addresses.insert(ip);
  }
  auto services = seams_.ipvs->ListServices();
  if (!services.ok()) return services.status();
  const std::set<IpAddress> node_ips(node_port_ips.begin(), node_port_ips.end());
  for (const IpvsService& svc : *services) {
    if (!HasFamily(options_, svc.key.family())) continue;
    ObservedServer& server = o.servers[svc.key];
    server.service = svc;
    // Destinations are listed only where kpx may act on them: one dump per owned service.
    // Owned: wanted, or on an address the dummy holds now or is about to hold, or a NodePort.
    if (!cache_.WantsServer(svc.key) && !cache_.WantsAddress(svc.key.address) &&
        !OwnsVirtualServer(svc.key, o.bound_addresses, node_ips, options_)) {
      continue;
    }
    auto dests = seams_.ipvs->ListDestinations(svc.key);
    if (!dests.ok()) return dests.status();
    for (const auto& d : *dests) server.dests.Put(d);
  }
  observed_ = std::move(o);
  return Status::Ok();
}

KernelStatus IpvsDataplane::Execute(const IpvsOp& op) {
  IpvsHandle& ipvs = *seams_.ipvs;
  const IpvsServiceKey& key = op.service.key;
  switch (op.kind) {
    case IpvsOpKind::kAddService:
    case IpvsOpKind::kUpdateService: {
      const bool add = op.kind == IpvsOpKind::kAddService;
      KernelStatus s = add ? ipvs.AddService(op.service) : ipvs.UpdateService(op.service);
      // The kernel disagreed with our picture (someone else changed it): do the other one.
      if (add && s.exists()) s = ipvs.UpdateService(op.service);
      if (!add && s.not_found()) s = ipvs.AddService(op.service);
      if (s.ok()) observed_.servers[key].service = op.service;
      return s;
    }
    case IpvsOpKind::kAddDest:
    case IpvsOpKind::kUpdateDest: {
      termination_.Cancel(key, op.dest.key);
      const bool add = op.kind == IpvsOpKind::kAddDest;
      KernelStatus s =
          add ? ipvs.AddDestination(key, op.dest) : ipvs.UpdateDestination(key, op.dest);
      if (add && s.exists()) s = ipvs.UpdateDestination(key, op.dest);
      if (!add && s.not_found()) s = ipvs.AddDestination(key, op.dest);
      if (s.ok()) observed_.servers[key].dests.Put(op.dest);
      return s;
    }
    case IpvsOpKind::kRetireDest: {
      // Our picture has no connection counters between full syncs; the drain decision needs
      // current ones.
      auto current = ipvs.ListDestinations(key);
      if (!current.ok())
        return KernelStatus::Error(KernelErrorKind::kOther, current.status().message());
      auto found = std::find_if(current->begin(), current->end(),
                                [&](const IpvsDestination& d) { return d.key == op.dest.key; });
      if (found == current->end()) {
        observed_.servers[key].dests.Erase(op.dest.key);
        return KernelStatus::Ok();
      }
      KernelStatus s = termination_.Retire(op.service, *found);
      if (s.ok()) {
        IpvsDestinationList& dests = observed_.servers[key].dests;
        if (!termination_.IsDraining(key, op.dest.key)) {
          dests.Erase(op.dest.key);
        } else if (!dests.SetWeight(op.dest.key, 0)) {
          IpvsDestination draining = op.dest;
          draining.weight = 0;
          dests.Put(draining);
        }
      }
      return s;
    }
    case IpvsOpKind::kDeleteService: {
      KernelStatus s = ipvs.DeleteService(key);
      if (s.not_found()) s = KernelStatus::Ok();
      if (s.ok()) {
        termination_.ForgetService(key);
        observed_.servers.erase(key);
      }
      return s;
    }
    case IpvsOpKind::kBindAddress: {
      KernelStatus s = seams_.link->AddAddress(options_.dummy_device, op.address);
      if (s.exists()) s = KernelStatus::Ok();
      if (s.ok()) observed_.bound_addresses.insert(op.address);
      return s;
    }
    case IpvsOpKind::kUnbindAddress: {
      KernelStatus s = seams_.link->DeleteAddress(options_.dummy_device, op.address);
      if (s.not_found()) s = KernelStatus::Ok();
      if (s.ok()) observed_.bound_addresses.erase(op.address);
      return s;
    }
  }
  return KernelStatus::Ok();
}

Status IpvsDataplane::Apply(const DesiredState& state, bool full) {
  const auto start = clock_();
  ++counters_.syncs;
  full = full || needs_full_ || !initialized_;
  Status result;
  auto fail = [&](const Status& s) {
    if (result.ok()) result = s;
  };

  if (!initialized_) {
    if (auto s = Initialize(); !s.ok()) {
      ++counters_.sync_failures;
      return s;
    }
  }
  std::vector<IpAddress> dummy_addresses;
  if (full) {
    // One address dump serves both the NodePort addresses and the dummy device's picture.
    auto all = seams_.link->ListAllAddresses();
    if (!all.ok()) {
      ++counters_.sync_failures;
      needs_full_ = true;
      return all.status();
    }
    local_addresses_.clear();
    for (const auto& a : *all) {
      (a.interface == options_.dummy_device ? dummy_addresses : local_addresses_)
          .push_back(a.address);
    }
  } else if (state.node_changed) {
    auto local = LocalAddresses();
    if (!local.ok()) {
      ++counters_.sync_failures;
      needs_full_ = true;
      return local.status();
    }
    local_addresses_ = std::move(*local);
  }
  // Without a node listing (e.g. addresses not readable) fall back to the Node object's.
  const std::vector<IpAddress>& candidates =
      local_addresses_.empty() ? state.node.addresses : local_addresses_;
  const std::vector<IpAddress> node_port_ips =
      SelectNodePortAddresses(candidates, options_, state.node);
  // New NodePort addresses change every NodePort server: nothing cached can be trusted.
  const bool everything = cache_.SetNodePortIps(node_port_ips) || full;

  IpvsDesiredCache::Touched touched;
  if (everything) {
    touched = cache_.Rebuild(state);
  } else {
    // The change set describes the step from the previous snapshot only; after a gap, compare
    // every entry by pointer (still no rebuild of unchanged ports).
    const bool consecutive = cache_generation_ + 1 == state.generation;
    touched = cache_.Update(state, consecutive ? state.changed : cache_.AllNames(state));
  }
  cache_generation_ = state.generation;
  const size_t replaced = touched.replaced.size();
  counters_.service_ports_rebuilt += everything ? cache_.port_count() : replaced;
  if (conntrack_before_.empty()) {
    conntrack_before_ = std::move(touched.replaced);
  } else {
    conntrack_before_.insert(conntrack_before_.end(),
                             std::make_move_iterator(touched.replaced.begin()),
                             std::make_move_iterator(touched.replaced.end()));
  }

  if (full) {
    ++counters_.full_syncs;
    if (auto s = Observe(node_port_ips, dummy_addresses); !s.ok()) {
      ++counters_.sync_failures;
      needs_full_ = true;
      return s;
    }
  }

  // ipsets before IPVS (and before the iptables rules that reference them). After a rebuild
  // (new NodePort addresses, too) the sets are compared whole: the cache has no difference.
  fail(SyncIpsets(state, everything, touched.ipset_lines, touched.ipset_changes, node_port_ips));
  // NodeCIDR local detection follows the Node object's podCIDRs.
  const bool pod_cidrs_changed = state.node.pod_cidrs != node_pod_cidrs_;
  node_pod_cidrs_ = state.node.pod_cidrs;
  // A set turning empty or non-empty adds or drops its rules (entries were added above, first).
  const IpsetPresence presence = cache_.ipset_presence();
  if (full || pod_cidrs_changed || presence != rules_presence_) fail(SyncIptables(presence));

  const std::set<IpAddress> node_ips(node_port_ips.begin(), node_port_ips.end());
  std::vector<IpvsOp> plan;
  // A full sync's whole desired picture: made only now, after the cache is built, and kept until
  // the plan has run. Its ~10^5 short-lived nodes must not share pages with nodes that stay:
  // made alongside the cache's, or freed before the plan's ops allocate observed_ (which would
  // then fill its holes), each page would keep a live node and stay resident after it is freed
  // (measured at 10 000 x 10, on a kernel that keeps nothing in the process: 10 MiB each).
  std::optional<DesiredIpvs> desired;
  if (everything) {
    desired.emplace(cache_.Assemble());
    plan = PlanIpvs(*desired, observed_, node_ips, options_);
  } else {
    plan = PlanTouched(touched, node_ips);
  }
  counters_.last_plan_size = plan.size();
  for (const IpvsOp& op : plan) {
    VLOG(4) << "ipvs: " << op.ToString();
    KernelStatus s = Execute(op);
    if (s.ok()) {
      ++counters_.operations;
    } else {
      ++counters_.operation_failures;
      LOG(WARNING) << "ipvs: " << op.ToString() << ": " << s.message();
      fail(s.ToStatus());
    }
  }
  desired.reset();
  // Only servers with a draining destination can lose one to Process.
  const std::set<IpvsServiceKey> draining = termination_.DrainingServices();
  if (auto s = termination_.Process(); !s.ok()) fail(s.status());
  ForgetDrainedDestinations(everything ? nullptr : &draining, true);

  // After the kernel moved traffic away from removed endpoints, so no new stale entry appears.
  if (result.ok()) CleanConntrack(state);
  counters_.virtual_servers = cache_.server_count();
  counters_.draining_destinations = termination_.draining();
  counters_.last_sync_duration = clock_() - start;
  needs_full_ = !result.ok();
  if (!result.ok()) ++counters_.sync_failures;
  VLOG(2) << "ipvs: sync " << (full ? "full" : "partial") << ", " << replaced
          << " service ports rebuilt, " << plan.size() << " operations, " << touched.ipset_changes
          << " ipset entries, " << cache_.server_count() << " virtual servers, "
          << termination_.draining() << " draining";
  return result;
}

std::vector<IpvsOp> IpvsDataplane::PlanTouched(const IpvsDesiredCache::Touched& touched,
                                               const std::set<IpAddress>& node_ips) const {
  // PlanIpvs over a slice of both sides: the touched servers with their observed counterparts,
  // and the touched addresses (plus those of the touched servers, which decide whether kpx owns
  // a server it is about to delete) with their wanted and observed state. Outside the slice the
  // kernel already matches, so the plan equals the one over everything.
  DesiredIpvs want;
  ObservedIpvs have;
  std::set<IpAddress> addresses = touched.addresses;
  for (const IpvsServiceKey& key : touched.servers) {
    if (auto vs = cache_.Find(key)) want.servers.emplace(key, std::move(*vs));
    if (auto it = observed_.servers.find(key); it != observed_.servers.end()) {
      have.servers.insert(*it);
    }
    addresses.insert(key.address);
  }
  for (const IpAddress& ip : addresses) {
    if (cache_.WantsAddress(ip)) want.bound_addresses.insert(ip);
    if (observed_.bound_addresses.contains(ip)) have.bound_addresses.insert(ip);
  }
  return PlanIpvs(want, have, node_ips, options_);
}

void IpvsDataplane::CleanConntrack(const DesiredState& state) {
  if (conntrack_before_.empty()) return;
  // By name, the earliest state of each first: what the conntrack entries were made under.
  std::stable_sort(conntrack_before_.begin(), conntrack_before_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  DesiredState before;
  std::set<ServicePortName> names;
  for (auto& [name, sp] : conntrack_before_) {
    if (!names.empty() && *names.rbegin() == name) continue;
    names.insert(names.end(), name);
    if (sp) before.services.emplace_hint(before.services.end(), name, std::move(sp));
  }
  for (IpFamily f : options_.families) conntrack_cleaner_.Clean(f, &before, state, names);
  counters_.conntrack_deletions = conntrack_cleaner_.deletions();
  counters_.conntrack_failures = conntrack_cleaner_.failures();
  decltype(conntrack_before_)().swap(conntrack_before_);
}

Status IpvsDataplane::SyncIpsets(const DesiredState& state, bool full,
                                 const std::string& element_lines, size_t element_changes,
                                 const std::vector<IpAddress>& node_port_ips) {
  if (!full) {
    // Only the entries whose presence changed; the sets exist since the last full sync.
    if (element_lines.empty()) return Status::Ok();
    ++counters_.ipset_element_batches;
    counters_.ipset_element_changes += element_changes;
    VLOG(9) << "ipset restore:\n" << element_lines;
    return seams_.ipset->Restore(element_lines);
  }
  auto saved = seams_.ipset->Save();
  if (!saved.ok()) return saved.status();
  const IpsetMap have = ParseIpsetSave(*saved);
  // One wanted picture across families: the bitmap:port sets (NodePorts) are shared, and a
  // per-family diff would have one family delete the other's NodePorts.
  IpsetMap want;
  for (IpFamily f : options_.families) {
    for (auto& [name, set] : RenderIpsets(state, f, node_port_ips)) {
      auto [it, inserted] = want.try_emplace(name, std::move(set));
      if (!inserted) it->second.entries.merge(set.entries);
    }
  }
  const std::string text = IpsetRestoreText(want, have);
  if (text.empty()) return Status::Ok();
  ++counters_.ipset_restores;
  VLOG(9) << "ipset restore:\n" << text;
  return seams_.ipset->Restore(text);
}

Status IpvsDataplane::SyncIptables(const IpsetPresence& presence) {
  rules_presence_.reset();  // unknown until every family is written
  for (IpFamily f : options_.families) {
    ++counters_.iptables_restores;
    if (auto s =
            seams_.iptables->Restore(f, RenderIpvsIptables(options_, f, node_pod_cidrs_, presence));
        !s.ok())
      return s;
    if (auto r = seams_.iptables->EnsureJumps(f, IpvsJumpRules()); !r.ok()) return r.status();
  }
  rules_presence_ = presence;
  return Status::Ok();
}

void IpvsDataplane::ForgetDrainedDestinations(const std::set<IpvsServiceKey>* keys,
                                              bool use_desired) {
  auto forget = [&](const IpvsServiceKey& key, IpvsDestinationList& dests) {
    std::optional<std::optional<DesiredVirtualServer>> want;  // derived on first need
    dests.EraseIf([&](const IpvsDestination& d) {
      bool stale = d.weight == 0 && !termination_.IsDraining(key, d.key);
      if (stale && use_desired) {
        if (!want) want = cache_.Find(key);
        stale = !(*want && (*want)->dests.contains(d.key));
      }
      return stale;
    });
  };
  if (!keys) {
    for (auto& [key, server] : observed_.servers) forget(key, server.dests);
    return;
  }
  for (const IpvsServiceKey& key : *keys) {
    if (auto it = observed_.servers.find(key); it != observed_.servers.end()) {
      forget(key, it->second.dests);
    }
  }
}

Status IpvsDataplane::ProcessGracefulTermination() {
  if (termination_.draining() == 0) return Status::Ok();
  const std::set<IpvsServiceKey> draining = termination_.DrainingServices();
  auto r = termination_.Process();
  // Between syncs nothing desired has weight 0 (desired destinations are re-weighted by the
  // next Apply), so what graceful termination deleted is all that leaves the picture.
  ForgetDrainedDestinations(&draining, false);
  counters_.draining_destinations = termination_.draining();
  return r.ok() ? Status::Ok() : r.status();
}

std::chrono::milliseconds IpvsDataplane::HousekeepingInterval() const {
  return options_.graceful_termination_check;
}

Status IpvsDataplane::Cleanup() {
  Status result;
  auto fail = [&](const Status& s) {
    if (!s.ok() && result.ok()) result = s;
  };
  // iptables first: the sets cannot be destroyed while rules reference them.
  for (IpFamily f : kIpFamilies) {
    for (const JumpRule& j : IpvsJumpRules()) {
      auto r = seams_.iptables->DeleteJump(f, j);
      if (!r.ok()) fail(r.status());
    }
    fail(seams_.iptables->DeleteChains(f, "nat", IpvsChains("nat")));
    fail(seams_.iptables->DeleteChains(f, "filter", IpvsChains("filter")));
  }
  for (const std::string& name : AllIpsetNames()) fail(seams_.ipset->Destroy(name));

  // IPVS: what sits on the dummy device, and NodePort-range services on node addresses.
  std::set<IpAddress> dummy;
  auto exists = seams_.link->LinkExists(options_.dummy_device);
  if (!exists.ok()) fail(exists.status());
  if (exists.ok() && *exists) {
    auto bound = seams_.link->ListAddresses(options_.dummy_device);
    if (bound.ok()) {
      dummy.insert(bound->begin(), bound->end());
    } else {
      fail(bound.status());
    }
  }
  std::set<IpAddress> node_ips;
  if (auto local = LocalAddresses(); local.ok()) {
    for (const IpAddress& ip : SelectNodePortAddresses(*local, options_)) node_ips.insert(ip);
  } else {
    fail(local.status());
  }
  if (auto services = seams_.ipvs->ListServices(); services.ok()) {
    for (const IpvsService& svc : *services) {
      if (!OwnsVirtualServer(svc.key, dummy, node_ips, options_)) continue;
      KernelStatus s = seams_.ipvs->DeleteService(svc.key);
      if (!s.ok() && !s.not_found()) fail(s.ToStatus());
    }
  } else {
    fail(services.status());
  }
  if (exists.ok() && *exists) {
    KernelStatus s = seams_.link->DeleteLink(options_.dummy_device);
    if (!s.ok() && !s.not_found()) fail(s.ToStatus());
  }
  observed_ = ObservedIpvs();
  cache_ = IpvsDesiredCache(options_);
  cache_generation_ = 0;
  decltype(conntrack_before_)().swap(conntrack_before_);
  needs_full_ = true;
  initialized_ = false;
  return result;
}

void IpvsDataplane::RecordMetrics(MetricsRegistry& metrics) const {
  const auto d = [](auto v) { return static_cast<double>(v); };
  metrics.GetCounter("kpx_ipvs_operations_total", "IPVS and address operations applied")
      ->Set(d(counters_.operations));
  metrics
      .GetCounter("kpx_ipvs_operation_failures_total", "IPVS and address operations that failed")
      ->Set(d(counters_.operation_failures));
  metrics
      .GetCounter("kpx_ipvs_service_ports_rebuilt_total",
                  "service ports whose IPVS state was rebuilt (all on a full sync)")
      ->Set(d(counters_.service_ports_rebuilt));
  metrics
      .GetCounter("kpx_ipvs_ipset_entries_changed_total",
                  "ipset entries added or deleted one by one by incremental syncs")
      ->Set(d(counters_.ipset_element_changes));
  metrics.GetGauge("kpx_ipvs_virtual_servers", "IPVS virtual servers kpx programs")
      ->Set(d(counters_.virtual_servers));
  metrics.GetGauge("kpx_ipvs_draining_destinations", "removed destinations still draining")
      ->Set(d(counters_.draining_destinations));
  conntrack_cleaner_.RecordMetrics(metrics);
}

}  // namespace kpx
