#include "proxier/iptables/iptables_dataplane.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>

#include "base/thread_cpu_clock.h"
#include "proxier/iptables/chain_names.h"
#include "proxier/netfilter/restore_text.h"

namespace kpx {

IptablesDataplane::IptablesDataplane(IptablesOptions options,
                                     std::unique_ptr<IptablesRunner> runner,
                                     std::unique_ptr<Conntrack> conntrack, Clock clock)
    : options_(std::move(options)),
      renderer_(options_),
      runner_(std::move(runner)),
      conntrack_(std::move(conntrack)),
      conntrack_cleaner_(conntrack_.get()),
      clock_(clock ? std::move(clock) : Clock(std::chrono::steady_clock::now)) {
  for (IpFamily family : kIpFamilies) {
    families_[static_cast<int>(family)].rules =
        std::make_unique<IptablesFamilyRules>(renderer_, family);
  }
}

Result<std::set<std::string>> IptablesDataplane::ExistingChains(IpFamily family,
                                                                const std::string& table) {
  auto saved = runner_->Save(family, table);
  if (!saved.ok()) return saved.status();
  std::set<std::string> out;
  for (auto& c : RestoreText::ChainNames(*saved, table)) {
    if (IsKpxChainName(table, c)) out.insert(std::move(c));
  }
  return out;
}

bool IptablesDataplane::FullResyncDue(IpFamily family, const FamilyState& fs) {
  if (!fs.last_full || sync_start_ - *fs.last_full >= options_.full_sync_period) return true;
  auto saved = runner_->Save(family, "mangle");
  if (!saved.ok()) {
    LOG(WARNING) << IpFamilyName(family) << ": cannot list the mangle table for the canary ("
                 << saved.status().message() << "), resyncing in full";
    return true;
  }
  for (const auto& c : RestoreText::ChainNames(*saved, "mangle")) {
    if (c == kCanaryChain) return false;
  }
  ++counters_.canary_missing;
  LOG(WARNING) << IpFamilyName(family) << ": " << kCanaryChain
               << " is gone from the mangle table: the tables were flushed, resyncing in full";
  return true;
}

Status IptablesDataplane::ApplyFamily(IpFamily family, const DesiredState& state, bool full) {
  FamilyState& fs = families_[static_cast<int>(family)];
  const int fi = static_cast<int>(family);
  if (fs.needs_full || state.node_changed) {
    full = true;
  } else if (full) {
    full = FullResyncDue(family, fs);
  }
  // Until this sync succeeds, the kernel may hold neither the old nor the new rendering.
  fs.needs_full = true;
  std::set<std::string> existing_nat, existing_filter;
  if (full) {
    // Jumps go in with separate commands: a restore cannot add one rule to a built-in chain
    // without declaring (and so flushing) it.
    const std::vector<JumpRule> jumps = KpxJumpRules(family, options_);
    auto added = runner_->EnsureJumps(family, jumps);
    if (!added.ok()) return added.status();
    for (size_t i = 0; i < jumps.size(); ++i) {
      if ((*added)[i]) {
        VLOG(2) << "added jump " << jumps[i].table << "/" << jumps[i].chain << " -> "
                << jumps[i].target;
      }
    }
    // The canary first: if the restore below fails, the next check still finds a reason to
    // resync in full (needs_full), and once it succeeds the canary vouches for the tables.
    const std::string canary = "*mangle\n:" + std::string(kCanaryChain) + " - [0:0]\nCOMMIT\n";
    if (Status st = runner_->Restore(family, canary); !st.ok()) {
      return Status::Error(std::string(IpFamilyName(family)) + " canary: " + st.message());
    }
    auto nat = ExistingChains(family, "nat");
    if (!nat.ok()) return nat.status();
    auto filter = ExistingChains(family, "filter");
    if (!filter.ok()) return filter.status();
    existing_nat = std::move(*nat);
    existing_filter = std::move(*filter);
  }
  std::vector<IpAddress> local =
      options_.local_address_lister ? options_.local_address_lister() : state.node.addresses;
  // A host always has an address (loopback at least): an empty listing is a failed one, and
  // the Node object's addresses are better than dropping every NodePort.
  if (local.empty()) local = state.node.addresses;
  // For the log only (the sync's own clock may be a test's): where a sync's time goes.
  using Wall = std::chrono::steady_clock;
  const auto render_start = Wall::now();
  IptablesFamilyRules::Output out = fs.rules->Update(
      state, local, full ? IptablesFamilyRules::Mode::kFull : IptablesFamilyRules::Mode::kPartial,
      existing_filter, existing_nat, runner_->ReadsPieces());
  counters_.nat_rules[fi] = fs.rules->nat_rules();
  counters_.filter_rules[fi] = fs.rules->filter_rules();
  counters_.nat_chains[fi] = fs.rules->nat_chains();
  if (out.empty()) {
    fs.needs_full = false;
    ++counters_.skipped_syncs;
    VLOG(2) << IpFamilyName(family) << ": rules unchanged, kernel not touched";
    return Status::Ok();
  }
  VLOG(9) << "iptables-restore input (" << IpFamilyName(family) << "):\n" << out.Text();
  const auto restore_start = Wall::now();
  // The hand-off's CPU apart: x_tables takes whole tables, so the restore is O(rules) whatever
  // changed, and kpx's own part of a sync is the rest.
  const auto restore_cpu_start = ThreadCpuTime();
  Status restored;
  if (out.pieces.empty()) {
    restored = runner_->Restore(family, out.text);
  } else {
    // pieces() first: it ends the piece being written, and with it the per-piece flags.
    const std::span<const std::string_view> pieces = out.pieces.pieces();
    restored = runner_->RestoreInPieces(family, pieces, out.pieces.rules_only());
  }
  fs.rules->FinishWrite();
  if (!restored.ok()) {
    ++counters_.restore_failures;
    return Status::Error(std::string(IpFamilyName(family)) +
                         " restore failed: " + restored.message());
  }
  ++(out.full ? counters_.full_syncs : counters_.partial_syncs);
  if (full) fs.last_full = sync_start_;
  counters_.stale_chains_deleted += out.stale_chains;
  fs.needs_full = false;
  VLOG(2) << IpFamilyName(family) << ": " << (out.full ? "full" : "partial") << " sync, "
          << out.rerendered << " service ports rendered, " << out.size() << " bytes written, "
          << counters_.nat_rules[fi] << " nat rules, " << counters_.filter_rules[fi]
          << " filter rules, " << out.stale_chains << " stale chains; render "
          << std::chrono::duration<double, std::milli>(restore_start - render_start).count()
          << " ms, restore "
          << std::chrono::duration<double, std::milli>(Wall::now() - restore_start).count()
          << " ms (CPU "
          << std::chrono::duration<double, std::milli>(ThreadCpuTime() - restore_cpu_start).count()
          << " ms)";
  return Status::Ok();
}

Status IptablesDataplane::Apply(const DesiredState& state, bool full) {
  const auto start = clock_();
  sync_start_ = start;
  ++counters_.syncs;
  std::string errors;
  const DesiredState* before = previous_ ? &*previous_ : nullptr;
  std::set<ServicePortName> computed;
  const std::set<ServicePortName>& changed =
      ConntrackCleaner::ChangesToApply(before, state, &computed);
  for (IpFamily family : ApplyOrder(state)) {
    if (Status st = ApplyFamily(family, state, full); !st.ok()) {
      LOG(WARNING) << st.message();
      if (!errors.empty()) errors += "; ";
      errors += st.message();
      continue;
    }
    conntrack_cleaner_.Clean(family, previous_ ? &*previous_ : nullptr, state, changed);
  }
  counters_.conntrack_deletions = conntrack_cleaner_.deletions();
  counters_.conntrack_failures = conntrack_cleaner_.failures();
  counters_.last_sync_duration =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_() - start);
  if (!errors.empty()) return Status::Error(errors);
  RememberApplied(state);
  return Status::Ok();
}

std::vector<IpFamily> IptablesDataplane::ApplyOrder(const DesiredState& state) const {
  std::vector<IpFamily> order = options_.families;
  if (order.size() < 2) return order;
  std::array<size_t, 2> size{};
  bool rendered = false;
  for (IpFamily f : order) {
    const IptablesFamilyRules& r = *families_[static_cast<int>(f)].rules;
    size[static_cast<int>(f)] = r.nat_rules() + r.filter_rules();
    rendered = rendered || size[static_cast<int>(f)] > 0;
  }
  // Nothing rendered yet (the first sync): each family's endpoints in the state, most of what
  // it will hold. Only then: it is a walk over every service port.
  if (!rendered) {
    for (const auto& [name, port] : state.services) {
      for (IpFamily f : order) size[static_cast<int>(f)] += port->For(f).all().size();
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](IpFamily a, IpFamily b) {
    return size[static_cast<int>(a)] < size[static_cast<int>(b)];
  });
  return order;
}

void IptablesDataplane::RememberApplied(const DesiredState& state) {
  // O(changes): the service map is persistent, so the copy shares every unchanged entry. Its
  // `changed` is never read again (partial syncs take the next snapshot's) and after a full
  // sync names every port: 8 MB of tree nodes at 100 000 Services kept for nothing.
  previous_ = state.WithoutChanges();
}

Status IptablesDataplane::Cleanup() {
  std::string errors;
  auto note = [&](const Status& st) {
    if (st.ok()) return;
    if (!errors.empty()) errors += "; ";
    errors += st.message();
  };
  IptablesOptions every = options_;
  every.localhost_nodeports = true;  // also remove the KUBE-FIREWALL jumps if ever added
  for (IpFamily family : kIpFamilies) {
    for (const auto& jump : KpxJumpRules(family, every)) {
      auto deleted = runner_->DeleteJump(family, jump);
      if (!deleted.ok()) note(deleted.status());
    }
    // Best effort: a kernel without this family's mangle table cannot hold the canary, and
    // that must not fail the cleanup of the tables kpx really uses.
    if (Status st = runner_->DeleteChains(family, "mangle", {std::string(kCanaryChain)});
        !st.ok()) {
      LOG(WARNING) << IpFamilyName(family) << ": " << kCanaryChain
                   << " not removed: " << st.message();
    }
    for (const std::string table : {"nat", "filter"}) {
      auto chains = ExistingChains(family, table);
      if (!chains.ok()) {
        note(chains.status());
        continue;
      }
      note(runner_->DeleteChains(family, table,
                                 std::vector<std::string>(chains->begin(), chains->end())));
    }
    families_[static_cast<int>(family)].needs_full = true;
    families_[static_cast<int>(family)].last_full.reset();
  }
  previous_.reset();
  if (!errors.empty()) return Status::Error("cleanup: " + errors);
  return Status::Ok();
}

void IptablesDataplane::RecordMetrics(MetricsRegistry& metrics) const {
  // kube-proxy's names where it has one, so dashboards built for it keep working.
  metrics
      .GetCounter("kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
                  "Cumulative proxy iptables restore failures")
      ->Set(static_cast<double>(counters_.restore_failures));
  const auto sum = [](const std::array<size_t, 2>& a) { return static_cast<double>(a[0] + a[1]); };
  metrics
      .GetGauge("kubeproxy_sync_proxy_rules_iptables_total",
                "Total number of iptables rules owned by kube-proxy", {{"table", "nat"}})
      ->Set(sum(counters_.nat_rules));
  metrics
      .GetGauge("kubeproxy_sync_proxy_rules_iptables_total",
                "Total number of iptables rules owned by kube-proxy", {{"table", "filter"}})
      ->Set(sum(counters_.filter_rules));
  runner_->RecordMetrics(metrics);
  const char* kSyncs = "kpx_iptables_syncs_total";
  const char* kSyncsHelp = "iptables syncs by kind (skipped: identical rules, kernel untouched)";
  metrics.GetCounter(kSyncs, kSyncsHelp, {{"kind", "full"}})->Set(counters_.full_syncs);
  metrics.GetCounter(kSyncs, kSyncsHelp, {{"kind", "partial"}})->Set(counters_.partial_syncs);
  metrics.GetCounter(kSyncs, kSyncsHelp, {{"kind", "skipped"}})->Set(counters_.skipped_syncs);
  metrics
      .GetCounter("kpx_iptables_canary_missing_total",
                  "Periodic checks that found KUBE-PROXY-CANARY gone (tables flushed): full resync")
      ->Set(static_cast<double>(counters_.canary_missing));
  metrics
      .GetCounter("kpx_iptables_stale_chains_deleted_total",
                  "Chains kpx deleted because no service needs them any more")
      ->Set(static_cast<double>(counters_.stale_chains_deleted));
  conntrack_cleaner_.RecordMetrics(metrics);
}

}  // namespace kpx
