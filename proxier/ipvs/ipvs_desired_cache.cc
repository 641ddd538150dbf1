#include "proxier/ipvs/ipvs_desired_cache.h"

#include <algorithm>

namespace kpx {

bool IpvsDesiredCache::SetNodePortIps(std::vector<IpAddress> ips) {
  if (ips == node_port_ips_) return false;
  node_port_ips_ = std::move(ips);
  return true;
}

IpvsDesiredCache::Contribution IpvsDesiredCache::Derive(const ServicePortState& state) const {
  Contribution c;
  c.ipvs = BuildServicePortIpvs(state, options_, node_port_ips_);
  for (IpFamily f : options_.families) {
    std::vector<IpsetEntry> entries = ServicePortIpsetEntries(state, f, node_port_ips_);
    c.ipset.insert(c.ipset.end(), entries.begin(), entries.end());
  }
  // A port counts once per entry, however often it produces it (two local endpoints with the
  // same address and port collapse into one KUBE-LOOP-BACK entry; both families ask for the same
  // NodePort bitmap entry).
  std::sort(c.ipset.begin(), c.ipset.end());
  c.ipset.erase(std::unique(c.ipset.begin(), c.ipset.end()), c.ipset.end());
  return c;
}

void IpvsDesiredCache::Count(const Contribution& e, const ServicePortName& name, int delta,
                             Touched* touched, std::map<IpsetEntry, bool>* ipset_before) {
  for (const auto& [key, vs] : e.ipvs.servers) {
    if (touched) touched->servers.insert(key);
    if (delta > 0) {
      Claim(key, &name);
    } else {
      Unclaim(key, name);
    }
  }
  for (const IpAddress& ip : e.ipvs.bound_addresses) {
    if (touched) touched->addresses.insert(ip);
    if (delta > 0) {
      ++address_refs_[ip];
    } else if (auto it = address_refs_.find(ip); it != address_refs_.end() && --it->second == 0) {
      address_refs_.erase(it);
    }
  }
  for (const IpsetEntry& entry : e.ipset) {
    if (ipset_before) {
      if (auto [it, inserted] = ipset_before->try_emplace(entry, false); inserted) {
        it->second = ipset_refs_.Contains(entry);
      }
    }
    if (delta > 0) {
      ipset_refs_.Add(entry);
    } else {
      ipset_refs_.Remove(entry);
    }
  }
}

void IpvsDesiredCache::Claim(const IpvsServiceKey& key, const ServicePortName* owner) {
  auto [it, inserted] = claims_.try_emplace(key);
  Claims& c = it->second;
  if (inserted) {
    c.first = owner;
    return;
  }
  if (*owner < *c.first) std::swap(owner, c.first);
  auto at =
      std::upper_bound(c.rest.begin(), c.rest.end(), owner,
                       [](const ServicePortName* a, const ServicePortName* b) { return *a < *b; });
  c.rest.insert(at, owner);
}

void IpvsDesiredCache::Unclaim(const IpvsServiceKey& key, const ServicePortName& owner) {
  auto it = claims_.find(key);
  if (it == claims_.end()) return;
  Claims& c = it->second;
  if (*c.first == owner) {
    if (c.rest.empty()) {
      claims_.erase(it);
      return;
    }
    c.first = c.rest.front();
    c.rest.erase(c.rest.begin());
  } else {
    auto r = std::find_if(c.rest.begin(), c.rest.end(),
                          [&](const ServicePortName* p) { return *p == owner; });
    if (r != c.rest.end()) c.rest.erase(r);
  }
  if (c.rest.empty()) std::vector<const ServicePortName*>().swap(c.rest);
}

IpvsDesiredCache::Touched IpvsDesiredCache::Rebuild(const DesiredState& state) {
  Touched touched;
  std::set<ServicePortStatePtr, ByName> old = std::move(ports_);
  const size_t ipset_v4 = ipset_refs_.v4_size(), ipset_v6 = ipset_refs_.v6_size();
  ports_.clear();
  claims_.clear();
  address_refs_.clear();
  ipset_refs_.Clear();
  ipset_refs_.Reserve(ipset_v4, ipset_v6);
  for (const auto& [name, sp] : state.services) {
    auto it = old.find(name);
    if (it == old.end()) {
      touched.replaced.emplace_back(name, nullptr);
    } else if (*it != sp) {
      touched.replaced.emplace_back(name, *it);
    }
    Contribution c = Derive(*sp);
    ports_.emplace_hint(ports_.end(), sp);
    Count(c, sp->info.name, +1, nullptr, nullptr);
  }

  for (const auto& sp : old) {
    if (!state.services.contains(sp->info.name)) touched.replaced.emplace_back(sp->info.name, sp);
  }
  return touched;
}

IpvsDesiredCache::Touched IpvsDesiredCache::Update(const DesiredState& state,
                                                   const std::set<ServicePortName>& names) {
  Touched touched;
  std::map<IpsetEntry, bool> ipset_before;
  for (const ServicePortName& name : names) {
    auto found = state.services.find(name);
    const ServicePortStatePtr* now = found == state.services.end() ? nullptr : &found->second;
    auto it = ports_.find(name);
    if (it == ports_.end() && !now) continue;
    if (it != ports_.end() && now && *it == *now) continue;
    ServicePortStatePtr before;
    if (it != ports_.end()) {
      before = *it;
      // The same derivation as when it was counted (NodePort addresses change only by Rebuild).
      Count(Derive(*before), before->info.name, -1, &touched, &ipset_before);
      ports_.erase(it);
    }
    if (now) {
      ports_.insert(*now);
      Count(Derive(**now), (*now)->info.name, +1, &touched, &ipset_before);
    }
    touched.replaced.emplace_back(name, std::move(before));
  }
  std::vector<IpsetEntry> adds, dels;
  for (const auto& [entry, was] : ipset_before) {
    const bool is = ipset_refs_.Contains(entry);
    if (was == is) continue;
    (is ? adds : dels).push_back(entry);
  }
  Lines(adds, dels, touched);
  return touched;
}

void IpvsDesiredCache::Lines(const std::vector<IpsetEntry>& adds,
                             const std::vector<IpsetEntry>& dels, Touched& touched) {
  // Text only now, for what is written; sorted so the kernel sees the same batch for the same
  // change.
  auto text = [](const std::vector<IpsetEntry>& entries) {
    std::vector<IpsetEntryLine> lines;
    lines.reserve(entries.size());
    for (const IpsetEntry& e : entries) lines.push_back(e.Line());
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  for (const auto& l : text(dels)) touched.ipset_lines += "del " + l + "\n";
  for (const auto& l : text(adds)) touched.ipset_lines += "add " + l + "\n";
  touched.ipset_changes = adds.size() + dels.size();
}

std::set<ServicePortName> IpvsDesiredCache::AllNames(const DesiredState& state) const {
  std::set<ServicePortName> out;
  for (const auto& sp : ports_) out.insert(out.end(), sp->info.name);
  for (const auto& [name, sp] : state.services) out.insert(name);
  return out;
}

std::optional<DesiredVirtualServer> IpvsDesiredCache::Find(const IpvsServiceKey& key) const {
  auto it = claims_.find(key);
  if (it == claims_.end()) return std::nullopt;
  ServicePortIpvs winner =
      BuildServicePortIpvs(StateOf(*it->second.first), options_, node_port_ips_);
  return std::move(winner.servers.at(key));
}

DesiredIpvs IpvsDesiredCache::Assemble() const {
  // Each port's servers, each taken from the port that wins its key.
  DesiredIpvs out;
  for (const auto& sp : ports_) {
    ServicePortIpvs port = BuildServicePortIpvs(*sp, options_, node_port_ips_);
    for (auto& [key, vs] : port.servers) {
      if (*claims_.at(key).first == sp->info.name) out.servers.emplace(key, std::move(vs));
    }
  }
  for (const auto& [ip, refs] : address_refs_) {
    out.bound_addresses.insert(out.bound_addresses.end(), ip);
  }
  return out;
}

std::set<IpsetEntryLine> IpvsDesiredCache::IpsetLines() const {
  std::set<IpsetEntryLine> out;
  ipset_refs_.ForEach([&](const IpsetEntry& e) { out.insert(e.Line()); });
  return out;
}

}  // namespace kpx
