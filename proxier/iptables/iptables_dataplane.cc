#include "proxier/iptables/iptables_dataplane.h"

#include <glog/logging.h>

#include <algorithm>

#include "proxier/iptables/chain_names.h"
#include "proxier/netfilter/restore_text.h"

namespace kpx {

namespace {

std::vector<std::string> Minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string EndpointKey(const EndpointInfo& ep) { return ep.ToString(); }

}  // namespace

IptablesDataplane::IptablesDataplane(IptablesOptions options,
                                     std::unique_ptr<IptablesRunner> runner,
                                     std::unique_ptr<Conntrack> conntrack, Clock clock)
    : options_(std::move(options)),
      renderer_(options_),
      runner_(std::move(runner)),
      conntrack_(std::move(conntrack)),
      clock_(clock ? std::move(clock) : Clock(std::chrono::steady_clock::now)) {}

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

Status IptablesDataplane::ApplyFamily(IpFamily family, const DesiredState& state, bool full) {
  FamilyState& fs = families_[static_cast<int>(family)];
  const int fi = static_cast<int>(family);
  full = full || fs.needs_full || state.node_changed;
  if (full) {
    // Jumps go in with separate commands: a restore cannot add one rule to a built-in chain
    // without declaring (and so flushing) it.
    for (const auto& jump : KpxJumpRules(family, options_)) {
      auto added = runner_->EnsureJump(family, jump);
      if (!added.ok()) return added.status();
      if (*added)
        VLOG(2) << "added jump " << jump.table << "/" << jump.chain << " -> " << jump.target;
    }
  }
  std::vector<IpAddress> local =
      options_.local_address_lister ? options_.local_address_lister() : state.node.addresses;
  // A host always has an address (loopback at least): an empty listing is a failed one, and
  // the Node object's addresses are better than dropping every NodePort.
  if (local.empty()) local = state.node.addresses;
  const IptablesRuleset rules = renderer_.Render(state, family, local);
  std::string full_text = rules.FullText();
  counters_.nat_rules[fi] = rules.nat().RuleCount();
  counters_.filter_rules[fi] = rules.filter().RuleCount();
  counters_.nat_chains[fi] = rules.nat().chains.size();
  if (!full && full_text == fs.last_full_text) {
    ++counters_.skipped_syncs;
    VLOG(2) << IpFamilyName(family) << ": rules unchanged, kernel not touched";
    return Status::Ok();
  }

  std::set<std::string> existing_nat = fs.nat_chains;
  std::set<std::string> existing_filter = fs.filter_chains;
  if (full) {
    auto nat = ExistingChains(family, "nat");
    if (!nat.ok()) return nat.status();
    auto filter = ExistingChains(family, "filter");
    if (!filter.ok()) return filter.status();
    existing_nat.insert(nat->begin(), nat->end());
    existing_filter.insert(filter->begin(), filter->end());
  }
  const std::set<std::string> rendered_nat = rules.nat().ChainNames();
  const std::set<std::string> rendered_filter = rules.filter().ChainNames();
  const std::vector<std::string> stale_nat = Minus(existing_nat, rendered_nat);
  const std::vector<std::string> stale_filter = Minus(existing_filter, rendered_filter);

  const std::string text = full ? rules.RestoreText(nullptr, stale_filter, stale_nat)
                                : rules.RestoreText(&state.changed, stale_filter, stale_nat);
  VLOG(9) << "iptables-restore input (" << IpFamilyName(family) << "):\n" << text;
  if (Status st = runner_->Restore(family, text); !st.ok()) {
    ++counters_.restore_failures;
    fs.needs_full = true;
    return Status::Error(std::string(IpFamilyName(family)) + " restore failed: " + st.message());
  }
  ++(full ? counters_.full_syncs : counters_.partial_syncs);
  counters_.stale_chains_deleted += stale_nat.size() + stale_filter.size();
  fs.needs_full = false;
  fs.last_full_text = std::move(full_text);
  fs.nat_chains = rendered_nat;
  fs.filter_chains = rendered_filter;
  VLOG(2) << IpFamilyName(family) << ": " << (full ? "full" : "partial") << " sync, "
          << counters_.nat_rules[fi] << " nat rules, " << counters_.filter_rules[fi]
          << " filter rules, " << stale_nat.size() + stale_filter.size() << " stale chains";
  return Status::Ok();
}

void IptablesDataplane::CleanConntrack(IpFamily family, const DesiredState& state) {
  if (!conntrack_) return;
  static const ServicePortState kEmpty;
  auto del = [&](std::optional<IpAddress> orig_dst, std::optional<int> port,
                 std::optional<IpAddress> dst_nat) {
    ConntrackFilter f;
    f.family = family;
    f.protocol = Protocol::kUDP;
    f.orig_dst = std::move(orig_dst);
    f.orig_dst_port = port;
    f.dst_nat = std::move(dst_nat);
    ++counters_.conntrack_deletions;
    if (Status st = conntrack_->Delete(f); !st.ok()) {
      ++counters_.conntrack_failures;
      LOG(WARNING) << "conntrack cleanup failed: " << st.message();
    }
  };
  auto service_ips = [&](const ServicePortInfo& info) {
    std::vector<IpAddress> ips;
    if (info.ClusterIp(family)) ips.push_back(*info.ClusterIp(family));
    for (const auto& v : {info.external_ips, info.load_balancer_ips}) {
      for (const auto& ip : v) {
        if (ip.family() == family) ips.push_back(ip);
      }
    }
    return ips;
  };
  std::set<ServicePortName> names;
  for (const auto& [name, port] : state.services) {
    const ServicePortState* old = previous_ ? previous_->Find(name) : nullptr;
    if (old != port.get()) names.insert(name);
  }
  if (previous_) {
    for (const auto& [name, port] : previous_->services) {
      if (!state.services.contains(name)) names.insert(name);
    }
  }
  for (const auto& name : names) {
    if (name.protocol != Protocol::kUDP) continue;
    const ServicePortState* old = previous_ ? previous_->Find(name) : nullptr;
    const ServicePortState* cur = state.Find(name);
    const ServicePortState& before = old ? *old : kEmpty;
    const ServicePortState& after = cur ? *cur : kEmpty;
    std::set<std::string> now;
    for (const auto& ep : after.For(family).all_reachable) now.insert(EndpointKey(*ep));
    // Removed endpoints: entries that still DNAT to them would black-hole the client.
    for (const auto& ep : before.For(family).all_reachable) {
      if (now.contains(EndpointKey(*ep))) continue;
      for (const auto& ip : service_ips(before.info)) del(ip, std::nullopt, ep->ip);
      if (before.info.node_port != 0) {
        del(std::nullopt, before.info.node_port, ep->ip);
      }
    }
    // First endpoint: entries created while the service was rejected must go, or the client
    // keeps hitting the REJECT path.
    if (cur && before.For(family).all_reachable.empty() && !now.empty()) {
      for (const auto& ip : service_ips(after.info)) del(ip, std::nullopt, std::nullopt);
      if (after.info.node_port != 0) del(std::nullopt, after.info.node_port, std::nullopt);
    }
  }
}

Status IptablesDataplane::Apply(const DesiredState& state, bool full) {
  const auto start = clock_();
  ++counters_.syncs;
  std::string errors;
  for (IpFamily family : options_.families) {
    if (Status st = ApplyFamily(family, state, full); !st.ok()) {
      LOG(WARNING) << st.message();
      if (!errors.empty()) errors += "; ";
      errors += st.message();
      continue;
    }
    CleanConntrack(family, state);
  }
  counters_.last_sync_duration =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_() - start);
  if (!errors.empty()) return Status::Error(errors);
  previous_ = state;
  return Status::Ok();
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
    for (const std::string table : {"nat", "filter"}) {
      auto chains = ExistingChains(family, table);
      if (!chains.ok()) {
        note(chains.status());
        continue;
      }
      note(runner_->DeleteChains(family, table,
                                 std::vector<std::string>(chains->begin(), chains->end())));
    }
    families_[static_cast<int>(family)] = FamilyState{};
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
  const char* kSyncs = "kpx_iptables_syncs_total";
  const char* kSyncsHelp = "iptables syncs by kind (skipped: identical rules, kernel untouched)";
  metrics.GetCounter(kSyncs, kSyncsHelp, {{"kind", "full"}})->Set(counters_.full_syncs);
  metrics.GetCounter(kSyncs, kSyncsHelp, {{"kind", "partial"}})->Set(counters_.partial_syncs);
  metrics.GetCounter(kSyncs, kSyncsHelp, {{"kind", "skipped"}})->Set(counters_.skipped_syncs);
  metrics
      .GetCounter("kpx_iptables_stale_chains_deleted_total",
                  "Chains kpx deleted because no service needs them any more")
      ->Set(static_cast<double>(counters_.stale_chains_deleted));
  metrics
      .GetCounter("kpx_conntrack_entries_deleted_total",
                  "conntrack deletions for removed UDP endpoints")
      ->Set(static_cast<double>(counters_.conntrack_deletions));
  metrics.GetCounter("kpx_conntrack_failures_total", "conntrack deletions that failed")
      ->Set(static_cast<double>(counters_.conntrack_failures));
}

}  // namespace kpx
