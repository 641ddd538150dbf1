#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <vector>

#include "proxier/core/endpoint_info.h"

namespace kpx {

using EndpointVector = std::vector<std::shared_ptr<const EndpointInfo>>;

// An immutable list of endpoints whose copies share one array. A service port's selection usually
// holds the same endpoints several times over (all, cluster and all_reachable are equal when every
// endpoint is ready and no topology applies); as separate vectors those copies were ~500 bytes per
// port, 5 MiB of kpx's heap at 10 000 services x 10 endpoints. push_back copies the array first
// if another list shares it, so a list built by appending still behaves as a value.
class EndpointList {
 public:
  using value_type = EndpointVector::value_type;
  using const_iterator = EndpointVector::const_iterator;
  using iterator = const_iterator;

  EndpointList() = default;
  // Implicit: a vector is a list; the capacity is trimmed, the array is not copied again.
  EndpointList(EndpointVector endpoints);  // NOLINT(google-explicit-constructor)
  EndpointList(std::initializer_list<value_type> endpoints)
      : EndpointList(EndpointVector(endpoints)) {}

  const_iterator begin() const { return Items().begin(); }
  const_iterator end() const { return Items().end(); }
  size_t size() const { return items_ ? items_->size() : 0; }
  bool empty() const { return size() == 0; }
  const value_type& operator[](size_t i) const { return (*items_)[i]; }
  const value_type& front() const { return items_->front(); }
  const value_type& back() const { return items_->back(); }

  void push_back(value_type endpoint);
  // Whether both lists are the same array (not merely equal elements).
  bool SharesWith(const EndpointList& o) const { return items_ == o.items_; }

 private:
  const EndpointVector& Items() const;

  std::shared_ptr<EndpointVector> items_;  // null when empty; never written while shared
};

}  // namespace kpx
