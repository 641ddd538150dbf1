#include "proxier/core/endpoint_list.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace kpx {

namespace {

bool AddressLess(const EndpointInfo* a, const EndpointInfo* b) {
  return std::tie(a->ip, a->port) < std::tie(b->ip, b->port);
}

}  // namespace

EndpointList::EndpointList(std::vector<EndpointInfo> endpoints) {
  if (endpoints.empty()) return;
  endpoints.shrink_to_fit();
  auto block = std::make_shared<Block>();
  block->own = std::move(endpoints);
  block_ = std::move(block);
}

void EndpointList::Builder::Own(const EndpointList& from) {
  // Entries mostly come in runs from one list: looking at the last owner keeps this short.
  if (owners_.empty() || owners_.back() != from.block_) {
    if (std::find(owners_.begin(), owners_.end(), from.block_) == owners_.end()) {
      owners_.push_back(from.block_);
    }
  }
}

void EndpointList::Builder::Add(const EndpointList& from, const EndpointInfo* ep) {
  Own(from);
  items_.push_back(ep);
}

void EndpointList::Builder::Set(size_t i, const EndpointList& from, const EndpointInfo* ep) {
  Own(from);
  items_[i] = ep;
}

EndpointList EndpointList::Builder::Build() && {
  EndpointList out;
  if (items_.empty()) return out;
  // A list that is exactly one owner's entries in order is that owner.
  if (owners_.size() == 1) {
    if (owners_.front()->size() == items_.size()) {
      EndpointList whole;
      whole.block_ = owners_.front();
      if (std::equal(items_.begin(), items_.end(), whole.begin())) return whole;
    }
  }
  auto block = std::make_shared<Block>();
  items_.shrink_to_fit();
  owners_.shrink_to_fit();
  block->refs = std::move(items_);
  block->owners = std::move(owners_);
  out.block_ = std::move(block);
  return out;
}

EndpointList EndpointList::SortedByAddress() const {
  if (std::is_sorted(begin(), end(), AddressLess)) return *this;
  Builder out;
  out.Reserve(size());
  for (const EndpointInfo* ep : *this) out.Add(*this, ep);
  std::sort(out.items_.begin(), out.items_.end(), AddressLess);
  return std::move(out).Build();
}

}  // namespace kpx
