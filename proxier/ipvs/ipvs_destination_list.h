#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "proxier/ipvs/ipvs_destination.h"

namespace kpx {

// The real servers of one virtual server as kpx last saw them in the kernel, sorted by key.
// A flat sorted array rather than a map: the dataplane keeps one for every virtual server it
// owns between syncs (100 000 real servers at 10 000 Services x 10 endpoints), and a tree node
// per real server cost twice the bytes of the real server itself. Lookups are binary searches;
// inserts and erases move the tail, cheap at the sizes a virtual server has. Grows by an eighth,
// so a full sync adding one destination at a time leaves little unused room.
// Pure data, not thread-safe.
class IpvsDestinationList {
 public:
  using const_iterator = std::vector<IpvsDestination>::const_iterator;

  const IpvsDestination* Find(const IpvsDestinationKey& key) const;
  IpvsDestination* Find(const IpvsDestinationKey& key);
  bool Contains(const IpvsDestinationKey& key) const { return Find(key) != nullptr; }
  // Inserts `d`, or replaces the destination with its key.
  void Put(const IpvsDestination& d);
  // True when there was one.
  bool Erase(const IpvsDestinationKey& key);
  // Removes every destination `pred` holds true for; returns how many.
  template <typename Pred>
  size_t EraseIf(Pred&& pred) {
    auto first = std::remove_if(dests_.begin(), dests_.end(), pred);
    const size_t n = static_cast<size_t>(dests_.end() - first);
    dests_.erase(first, dests_.end());
    return n;
  }

  const_iterator begin() const { return dests_.begin(); }
  const_iterator end() const { return dests_.end(); }
  size_t size() const { return dests_.size(); }
  bool empty() const { return dests_.empty(); }
  size_t capacity() const { return dests_.capacity(); }
  bool operator==(const IpvsDestinationList&) const = default;

 private:
  std::vector<IpvsDestination>::iterator LowerBound(const IpvsDestinationKey& key);

  std::vector<IpvsDestination> dests_;  // sorted by key, keys unique
};

}  // namespace kpx
