#include "proxier/ipvs/ipvs_desired_cache.h"

#include <algorithm>

namespace kpx {

bool IpvsDesiredCache::SetNodePortIps(std::vector<IpAddress> ips) {
  if (ips == node_port_ips_) return false;
  node_port_ips_ = std::move(ips);
  return true;
}

IpvsDesiredCache::Entry IpvsDesiredCache::Build(
    std::shared_ptr<const ServicePortState> state) const {
  Entry e;
  e.ipvs = BuildServicePortIpvs(*state, options_, node_port_ips_);
  for (IpFamily f : options_.families) {
    std::vector<IpsetEntryLine> lines = ServicePortIpsetEntries(*state, f);
    e.ipset.insert(e.ipset.end(), std::make_move_iterator(lines.begin()),
                   std::make_move_iterator(lines.end()));
  }
  // A port counts once per line, however often it produces it (two local endpoints with the
  // same address and port collapse into one KUBE-LOOP-BACK entry).
  std::sort(e.ipset.begin(), e.ipset.end());
  e.ipset.erase(std::unique(e.ipset.begin(), e.ipset.end()), e.ipset.end());
  e.state = std::move(state);
  return e;
}

void IpvsDesiredCache::Count(const Entry& e, const ServicePortName& name, int delta,
                             Touched& touched,
                             std::unordered_map<IpsetEntryLine, bool>& ipset_before) {
  for (const auto& [key, vs] : e.ipvs.servers) {
    touched.servers.insert(key);
    if (delta > 0) {
      claims_[key].insert(name);
    } else if (auto it = claims_.find(key); it != claims_.end()) {
      it->second.erase(name);
      if (it->second.empty()) claims_.erase(it);
    }
  }
  for (const IpAddress& ip : e.ipvs.bound_addresses) {
    touched.addresses.insert(ip);
    if (delta > 0) {
      ++address_refs_[ip];
    } else if (auto it = address_refs_.find(ip); it != address_refs_.end() && --it->second == 0) {
      address_refs_.erase(it);
    }
  }
  for (const IpsetEntryLine& line : e.ipset) {
    auto it = ipset_refs_.find(line);
    ipset_before.try_emplace(line, it != ipset_refs_.end());
    if (delta > 0) {
      if (it == ipset_refs_.end()) {
        ipset_refs_.emplace(line, 1);
      } else {
        ++it->second;
      }
    } else if (it != ipset_refs_.end() && --it->second == 0) {
      ipset_refs_.erase(it);
    }
  }
}

IpvsDesiredCache::Touched IpvsDesiredCache::Rebuild(const DesiredState& state) {
  Touched touched;
  std::unordered_map<IpsetEntryLine, bool> ipset_before;
  std::map<ServicePortName, Entry> old = std::move(ports_);
  ports_.clear();
  claims_.clear();
  address_refs_.clear();
  ipset_refs_.clear();
  for (const auto& [name, sp] : state.services) {
    auto it = old.find(name);
    if (it == old.end()) {
      touched.replaced.emplace_back(name, nullptr);
    } else if (it->second.state != sp) {
      touched.replaced.emplace_back(name, it->second.state);
    }
    Entry e = Build(sp);
    Count(e, name, +1, touched, ipset_before);
    ports_.emplace_hint(ports_.end(), name, std::move(e));
  }
  for (auto& [name, e] : old) {
    if (!state.services.contains(name)) touched.replaced.emplace_back(name, std::move(e.state));
  }
  // A full sync restores the ipsets whole; no per-entry lines.
  return touched;
}

IpvsDesiredCache::Touched IpvsDesiredCache::Update(const DesiredState& state,
                                                   const std::set<ServicePortName>& names,
                                                   bool force) {
  Touched touched;
  std::unordered_map<IpsetEntryLine, bool> ipset_before;
  for (const ServicePortName& name : names) {
    auto found = state.services.find(name);
    const std::shared_ptr<const ServicePortState>* now =
        found == state.services.end() ? nullptr : &found->second;
    auto it = ports_.find(name);
    if (it == ports_.end() && !now) continue;
    if (it != ports_.end() && now && it->second.state == *now && !force) continue;
    std::shared_ptr<const ServicePortState> before;
    if (it != ports_.end()) {
      Count(it->second, name, -1, touched, ipset_before);
      before = std::move(it->second.state);
      ports_.erase(it);
    }
    if (now) {
      Entry e = Build(*now);
      Count(e, name, +1, touched, ipset_before);
      ports_.emplace(name, std::move(e));
    }
    if (before != (now ? *now : nullptr)) touched.replaced.emplace_back(name, std::move(before));
  }
  std::vector<IpsetEntryLine> adds, dels;
  for (const auto& [line, was] : ipset_before) {
    const bool is = ipset_refs_.contains(line);
    if (was == is) continue;
    (is ? adds : dels).push_back(line);
  }
  // Sorted so the kernel sees the same batch for the same change.
  std::sort(adds.begin(), adds.end());
  std::sort(dels.begin(), dels.end());
  for (const auto& l : dels) touched.ipset_lines += "del " + l + "\n";
  for (const auto& l : adds) touched.ipset_lines += "add " + l + "\n";
  touched.ipset_changes = adds.size() + dels.size();
  return touched;
}

std::set<ServicePortName> IpvsDesiredCache::AllNames(const DesiredState& state) const {
  std::set<ServicePortName> out;
  for (const auto& [name, e] : ports_) out.insert(out.end(), name);
  for (const auto& [name, sp] : state.services) out.insert(name);
  return out;
}

const DesiredVirtualServer* IpvsDesiredCache::Find(const IpvsServiceKey& key) const {
  auto it = claims_.find(key);
  if (it == claims_.end()) return nullptr;
  return &ports_.at(*it->second.begin()).ipvs.servers.at(key);
}

DesiredIpvs IpvsDesiredCache::Assemble() const {
  DesiredIpvs out;
  for (const auto& [key, owners] : claims_) {
    out.servers.emplace_hint(out.servers.end(), key,
                             ports_.at(*owners.begin()).ipvs.servers.at(key));
  }
  for (const auto& [ip, refs] : address_refs_) {
    out.bound_addresses.insert(out.bound_addresses.end(), ip);
  }
  return out;
}

std::set<IpsetEntryLine> IpvsDesiredCache::IpsetLines() const {
  std::set<IpsetEntryLine> out;
  for (const auto& [line, refs] : ipset_refs_) out.insert(line);
  return out;
}

}  // namespace kpx
