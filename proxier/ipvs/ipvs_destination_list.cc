#include "proxier/ipvs/ipvs_destination_list.h"

#include <algorithm>
#include <tuple>

namespace kpx {

IpvsDestinationList::Entry IpvsDestinationList::Pack(const IpvsDestination& d) {
  Entry e;
  e.ip = d.key.address.bytes();
  e.port = d.key.port;
  e.family = static_cast<uint8_t>(d.key.address.family());
  e.weight = d.weight;
  e.forward_method = d.forward_method;
  return e;
}

IpvsDestination IpvsDestinationList::Unpack(const Entry& e) {
  IpvsDestination d;
  d.key.address = IpAddress::FromBytes(static_cast<IpFamily>(e.family), e.ip);
  d.key.port = e.port;
  d.weight = e.weight;
  d.forward_method = e.forward_method;
  return d;
}

bool IpvsDestinationList::KeyLess(const Entry& a, const Entry& b) {
  return std::tie(a.family, a.ip, a.port) < std::tie(b.family, b.ip, b.port);
}

bool IpvsDestinationList::SameKey(const Entry& a, const Entry& b) {
  return a.family == b.family && a.ip == b.ip && a.port == b.port;
}

std::vector<IpvsDestinationList::Entry>::const_iterator IpvsDestinationList::LowerBound(
    const Entry& key) const {
  return std::lower_bound(dests_.begin(), dests_.end(), key, KeyLess);
}

std::optional<IpvsDestination> IpvsDestinationList::Find(const IpvsDestinationKey& key) const {
  IpvsDestination probe;
  probe.key = key;
  const Entry k = Pack(probe);
  auto it = LowerBound(k);
  if (it == dests_.end() || !SameKey(*it, k)) return std::nullopt;
  return Unpack(*it);
}

bool IpvsDestinationList::Contains(const IpvsDestinationKey& key) const {
  return Find(key).has_value();
}

void IpvsDestinationList::Put(const IpvsDestination& d) {
  const Entry e = Pack(d);
  size_t at = static_cast<size_t>(LowerBound(e) - dests_.begin());
  if (at < dests_.size() && SameKey(dests_[at], e)) {
    dests_[at] = e;
    return;
  }
  if (dests_.size() == dests_.capacity()) dests_.reserve(dests_.size() + dests_.size() / 8 + 1);
  dests_.insert(dests_.begin() + static_cast<std::ptrdiff_t>(at), e);
}

bool IpvsDestinationList::SetWeight(const IpvsDestinationKey& key, int32_t weight) {
  IpvsDestination probe;
  probe.key = key;
  const Entry k = Pack(probe);
  const size_t at = static_cast<size_t>(LowerBound(k) - dests_.begin());
  if (at == dests_.size() || !SameKey(dests_[at], k)) return false;
  dests_[at].weight = weight;
  return true;
}

bool IpvsDestinationList::Erase(const IpvsDestinationKey& key) {
  IpvsDestination probe;
  probe.key = key;
  const Entry k = Pack(probe);
  auto it = LowerBound(k);
  if (it == dests_.end() || !SameKey(*it, k)) return false;
  dests_.erase(it);
  return true;
}

bool IpvsDestinationList::operator==(const IpvsDestinationList& o) const {
  return std::equal(dests_.begin(), dests_.end(), o.dests_.begin(), o.dests_.end(),
                    [](const Entry& a, const Entry& b) {
                      return SameKey(a, b) && a.weight == b.weight &&
                             a.forward_method == b.forward_method;
                    });
}

}  // namespace kpx
