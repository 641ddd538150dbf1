#include "proxier/health/service_health.h"

#include <glog/logging.h>

#include <set>
#include <utility>
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
      for (const auto& ep : svc->For(f).local()) ips.insert(ep->ip);
    }
  }
  for (auto& [port, entry] : out) entry.local_endpoints = static_cast<int>(local[port].size());
  return out;
}

void ServiceHealth::Reshare(const ServicePortName& name, const ServicePortState* port,
                            std::set<int32_t>& touched) {
  if (auto old = shares_.find(name); old != shares_.end()) {
    touched.insert(old->second.port);
    auto sharers = sharers_.find(old->second.port);
    sharers->second.erase(name);
    if (sharers->second.empty()) sharers_.erase(sharers);
    shares_.erase(old);
  }
  if (port == nullptr) return;
  const ServicePortInfo& info = port->info;
  if (info.health_check_node_port == 0 || !info.ExternalPolicyLocal()) return;
  Share share{info.health_check_node_port, {}};
  for (IpFamily f : kIpFamilies) {
    for (const auto& ep : port->For(f).local()) share.local.push_back(ep->ip);
  }
  touched.insert(share.port);
  sharers_[share.port].insert(name);
  shares_.emplace(name, std::move(share));
}

std::optional<ServiceHealthEntry> ServiceHealth::EntryOf(int32_t port) const {
  auto sharers = sharers_.find(port);
  if (sharers == sharers_.end()) return std::nullopt;
  // As Plan: named after the last port in sorted order, each local address counted once.
  const ServicePortName& last = *sharers->second.rbegin();
  std::set<IpAddress> local;
  for (const ServicePortName& name : sharers->second) {
    const Share& share = shares_.at(name);
    local.insert(share.local.begin(), share.local.end());
  }
  return ServiceHealthEntry{last.namespace_, last.name, static_cast<int>(local.size())};
}

void ServiceHealth::Update(const DesiredState& state) {
  std::set<int32_t> touched = std::exchange(unopened_, {});
  if (generation_ != 0 && state.generation == generation_ + 1) {
    for (const ServicePortName& name : state.changed) Reshare(name, state.Find(name), touched);
  } else {
    for (const auto& [port, names] : sharers_) touched.insert(port);
    shares_.clear();
    sharers_.clear();
    for (const auto& [name, port] : state.services) Reshare(name, port.get(), touched);
  }
  generation_ = state.generation;

  std::vector<std::unique_ptr<HealthCheckListener>> closing;  // destroyed after unlocking
  std::lock_guard lock(mu_);
  for (int32_t port : touched) {
    std::optional<ServiceHealthEntry> entry = EntryOf(port);
    if (!entry) {
      entries_.erase(port);
      if (auto it = listeners_.find(port); it != listeners_.end()) {
        LOG(INFO) << "closing health-check node port " << port;
        closing.push_back(std::move(it->second));
        listeners_.erase(it);
      }
      continue;
    }
    entries_[port] = *entry;
    if (listeners_.contains(port)) continue;
    auto listener =
        factory_(port, [this, port = port] { return Lookup(port).value_or(ServiceHealthEntry{}); });
    if (!listener.ok()) {
      LOG(WARNING) << "health-check node port " << port << " for " << entry->namespace_ << "/"
                   << entry->name << ": " << listener.status().message();
      unopened_.insert(port);
      continue;
    }
    LOG(INFO) << "serving health-check node port " << port << " for " << entry->namespace_ << "/"
              << entry->name;
    listeners_[port] = std::move(listener).value();
  }
}

void ServiceHealth::Stop() {
  // Called once syncs have stopped; an Update after it starts over from a whole state.
  shares_.clear();
  sharers_.clear();
  unopened_.clear();
  generation_ = 0;
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
