#include "proxier/netfilter/conntrack_cleaner.h"

#include "proxier/metrics/registry.h"

#include <glog/logging.h>

#include <string>
#include <vector>

namespace kpx {
namespace {

// The addresses clients reach a service port on, in one family (NodePorts are matched by port).
std::vector<IpAddress> ServiceAddresses(const ServicePortInfo& info, IpFamily family) {
  std::vector<IpAddress> ips;
  if (info.ClusterIp(family)) ips.push_back(*info.ClusterIp(family));
  for (const auto* list : {&info.external_ips, &info.load_balancer_ips}) {
    for (const auto& ip : *list) {
      if (ip.family() == family) ips.push_back(ip);
    }
  }
  return ips;
}

}  // namespace

std::set<ServicePortName> ConntrackCleaner::ChangedBetween(const DesiredState* before,
                                                           const DesiredState& after) {
  std::set<ServicePortName> storage;
  return ChangesToApply(before, after, &storage);
}

const std::set<ServicePortName>& ConntrackCleaner::ChangesToApply(
    const DesiredState* before, const DesiredState& after, std::set<ServicePortName>* storage) {
  if (ChangeSetIsExact(before, after)) return after.changed;
  std::set<ServicePortName>& names = *storage;
  names.clear();
  for (const auto& [name, port] : after.services) {
    if ((before ? before->Find(name) : nullptr) != port.get()) names.insert(name);
  }
  if (before) {
    for (const auto& [name, port] : before->services) {
      if (!after.services.contains(name)) names.insert(name);
    }
  }
  return names;
}

bool ConntrackCleaner::ChangeSetIsExact(const DesiredState* before, const DesiredState& after) {
  if (before) return before->generation + 1 == after.generation;
  // Both sorted by name: one walk, no allocation.
  auto c = after.changed.begin();
  for (const auto& [name, port] : after.services) {
    while (c != after.changed.end() && *c < name) ++c;
    if (c == after.changed.end() || !(*c == name)) return false;
  }
  return true;
}

void ConntrackCleaner::Clean(IpFamily family, const DesiredState* before, const DesiredState& after,
                             const std::set<ServicePortName>& names) {
  if (!conntrack_) return;
  static const ServicePortState kEmpty;
  std::vector<ConntrackFilter> filters;
  auto del = [&](std::optional<IpAddress> orig_dst, std::optional<int> port,
                 std::optional<IpAddress> dst_nat) {
    ConntrackFilter f;
    f.family = family;
    f.protocol = Protocol::kUDP;
    f.orig_dst = std::move(orig_dst);
    f.orig_dst_port = port;
    f.dst_nat = std::move(dst_nat);
    filters.push_back(std::move(f));
  };
  for (const auto& name : names) {
    if (name.protocol != Protocol::kUDP) continue;
    const ServicePortState* old = before ? before->Find(name) : nullptr;
    const ServicePortState* cur = after.Find(name);
    const ServicePortState& was = old ? *old : kEmpty;
    const ServicePortState& now = cur ? *cur : kEmpty;
    std::set<std::string> reachable;
    for (const auto& ep : now.For(family).all_reachable()) reachable.insert(ep->ToString());
    // Removed endpoints: entries that still DNAT to them would black-hole the client.
    for (const auto& ep : was.For(family).all_reachable()) {
      if (reachable.contains(ep->ToString())) continue;
      for (const auto& ip : ServiceAddresses(was.info, family)) del(ip, std::nullopt, ep->ip);
      if (was.info.node_port != 0) del(std::nullopt, was.info.node_port, ep->ip);
    }
    // First endpoint: entries created while the service was rejected must go, or the client
    // keeps hitting the reject path.
    if (cur && was.For(family).all_reachable().empty() && !reachable.empty()) {
      for (const auto& ip : ServiceAddresses(now.info, family)) del(ip, std::nullopt, std::nullopt);
      if (now.info.node_port != 0) del(std::nullopt, now.info.node_port, std::nullopt);
    }
  }
  if (filters.empty()) return;
  const Status st = conntrack_->Delete(filters);
  deletions_ += conntrack_->last_deleted();
  if (!st.ok()) {
    failures_ += filters.size();
    LOG(WARNING) << "conntrack cleanup (" << filters.size() << " filters, first "
                 << filters.front().ToString() << ") failed: " << st.message();
  }
}

void ConntrackCleaner::RecordMetrics(MetricsRegistry& metrics) const {
  metrics
      .GetCounter("kpx_conntrack_entries_deleted_total",
                  "conntrack entries deleted for removed UDP endpoints")
      ->Set(static_cast<double>(deletions_));
  metrics
      .GetCounter("kpx_conntrack_failures_total", "conntrack deletion filters whose call failed")
      ->Set(static_cast<double>(failures_));
}

}  // namespace kpx
