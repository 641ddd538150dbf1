#include "proxier/core/endpoint_list.h"

#include <utility>

namespace kpx {

EndpointList::EndpointList(EndpointVector endpoints) {
  if (endpoints.empty()) return;
  endpoints.shrink_to_fit();
  items_ = std::make_shared<EndpointVector>(std::move(endpoints));
}

void EndpointList::push_back(value_type endpoint) {
  if (!items_) {
    items_ = std::make_shared<EndpointVector>();
  } else if (items_.use_count() > 1) {
    items_ = std::make_shared<EndpointVector>(*items_);
  }
  items_->push_back(std::move(endpoint));
}

const EndpointVector& EndpointList::Items() const {
  static const EndpointVector kEmpty;
  return items_ ? *items_ : kEmpty;
}

}  // namespace kpx
