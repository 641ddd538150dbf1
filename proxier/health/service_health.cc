#include "proxier/health/service_health.h"

#include <glog/logging.h>

#include <set>
#include <vector>

namespace kpx {

std::map<int32_t, ServiceHealthEntry> ServiceHealth::Plan(const DesiredState& state) {
  // Every port of a Service shares its health-check port; count each local endpoint address once
  // across ports and families.
  std::map<int32_t, std::set<IpAddress>> local;
  std::map<int32_t, ServiceHealthEntry> out;
  for (const auto& [name, svc] : state.services) {
    const auto& info = svc->info;
    if (info.health_check_node_port == 0 || !info.ExternalPolicyLocal()) continue;
    auto& entry = out[info.health_check_node_port];
    entry.namespace_ = name.namespace_;
    entry.name = name.name;
    auto& ips = local[info.health_check_node_port];
    for (IpFamily f : kIpFamilies) {
      for (const auto& ep : svc->For(f).local) ips.insert(ep->ip);
    }
  }
  for (auto& [port, entry] : out) entry.local_endpoints = static_cast<int>(local[port].size());
  return out;
}

void ServiceHealth::Update(const DesiredState& state) {
  auto plan = Plan(state);
  std::vector<std::unique_ptr<HealthCheckListener>> closing;  // destroyed after unlocking
  std::lock_guard lock(mu_);
  entries_ = plan;
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (!plan.contains(it->first)) {
      LOG(INFO) << "closing health-check node port " << it->first;
      closing.push_back(std::move(it->second));
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [port, entry] : plan) {
    if (listeners_.contains(port)) continue;
    auto listener =
        factory_(port, [this, port = port] { return Lookup(port).value_or(ServiceHealthEntry{}); });
    if (!listener.ok()) {
      LOG(WARNING) << "health-check node port " << port << " for " << entry.namespace_ << "/"
                   << entry.name << ": " << listener.status().message();
      continue;
    }
    LOG(INFO) << "serving health-check node port " << port << " for " << entry.namespace_ << "/"
              << entry.name;
    listeners_[port] = std::move(listener).value();
  }
}

void ServiceHealth::Stop() {
  std::map<int32_t, std::unique_ptr<HealthCheckListener>> closing;
  {
    std::lock_guard lock(mu_);
    closing.swap(listeners_);
    entries_.clear();
  }
  // Destroyed outside the lock: a listener's in-flight request may be calling Lookup().
}

std::optional<ServiceHealthEntry> ServiceHealth::Lookup(int32_t port) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(port);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

size_t ServiceHealth::listener_count() const {
  std::lock_guard lock(mu_);
  return listeners_.size();
}

}  // namespace kpx
