#include "proxier/core/endpoint_list.h"

#include <algorithm>
#include <memory>
#include <new>

namespace kpx {

namespace {

bool AddressLess(const EndpointInfo* a, const EndpointInfo* b) {
  return a->Address() < b->Address();
}

}  // namespace

EndpointList::EndpointList(std::vector<EndpointInfo> endpoints) {
  if (endpoints.empty()) return;
  void* raw = ::operator new(sizeof(Block) + endpoints.size() * sizeof(EndpointInfo));
  auto* block = new (raw) Block;
  block->size = static_cast<uint32_t>(endpoints.size());
  block->owning = true;
  auto* items = reinterpret_cast<EndpointInfo*>(block + 1);
  std::uninitialized_move(endpoints.begin(), endpoints.end(), items);
  block_ = block;
}

void EndpointList::Release() {
  const Block* block = std::exchange(block_, nullptr);
  if (block == nullptr || block->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (block->owning) {
    std::destroy_n(const_cast<EndpointInfo*>(block->Own()), block->size);
  } else {
    for (uint32_t i = 0; i < block->owners; ++i) {
      EndpointList owner;
      owner.block_ = block->Owners()[i];  // adopts the reference this block held
    }
  }
  block->~Block();
  ::operator delete(const_cast<Block*>(block));
}

void EndpointList::Builder::Own(const EndpointList& from) {
  // A handful at most: one per slice a list draws from.
  for (const EndpointList& owner : owners_) {
    if (owner.SharesWith(from)) return;
  }
  owners_.push_back(from);
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
  if (items_.empty()) return {};
  // A list that is exactly one owner's entries in order is that owner.
  if (owners_.size() == 1 && owners_.front().size() == items_.size() &&
      std::equal(items_.begin(), items_.end(), owners_.front().begin())) {
    return std::move(owners_.front());
  }
  const size_t bytes = sizeof(Block) + items_.size() * sizeof(const EndpointInfo*) +
                       owners_.size() * sizeof(const Block*);
  auto* block = new (::operator new(bytes)) Block;
  block->size = static_cast<uint32_t>(items_.size());
  block->owners = static_cast<uint32_t>(owners_.size());
  auto* refs = reinterpret_cast<const EndpointInfo**>(block + 1);
  std::copy(items_.begin(), items_.end(), refs);
  auto* owners = reinterpret_cast<const Block**>(refs + items_.size());
  // The new block takes over the builder's references to its owners.
  for (EndpointList& owner : owners_) *owners++ = std::exchange(owner.block_, nullptr);
  EndpointList out;
  out.block_ = block;
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
