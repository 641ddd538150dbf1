#include "proxier/ipvs/ipvs_destination_list.h"

namespace kpx {

std::vector<IpvsDestination>::iterator IpvsDestinationList::LowerBound(
    const IpvsDestinationKey& key) {
  return std::lower_bound(
      dests_.begin(), dests_.end(), key,
      [](const IpvsDestination& d, const IpvsDestinationKey& k) { return d.key < k; });
}

IpvsDestination* IpvsDestinationList::Find(const IpvsDestinationKey& key) {
  auto it = LowerBound(key);
  return it != dests_.end() && it->key == key ? &*it : nullptr;
}

const IpvsDestination* IpvsDestinationList::Find(const IpvsDestinationKey& key) const {
  return const_cast<IpvsDestinationList*>(this)->Find(key);
}

void IpvsDestinationList::Put(const IpvsDestination& d) {
  auto it = LowerBound(d.key);
  if (it != dests_.end() && it->key == d.key) {
    *it = d;
    return;
  }
  if (dests_.size() == dests_.capacity()) {
    const size_t at = static_cast<size_t>(it - dests_.begin());
    dests_.reserve(dests_.size() + dests_.size() / 8 + 1);
    it = dests_.begin() + static_cast<std::ptrdiff_t>(at);
  }
  dests_.insert(it, d);
}

bool IpvsDestinationList::Erase(const IpvsDestinationKey& key) {
  auto it = LowerBound(key);
  if (it == dests_.end() || it->key != key) return false;
  dests_.erase(it);
  return true;
}

}  // namespace kpx
