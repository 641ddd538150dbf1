#include "proxier/core/endpoint_list.h"

#include <algorithm>
#include <memory>
#include <new>

namespace kpx {

namespace {

enum : uint8_t { kReady = 1, kServing = 2, kTerminating = 4, kLocal = 8 };

bool AddressLess(const EndpointList::Ref& a, const EndpointList::Ref& b) {
  return a->Address() < b->Address();
}

}  // namespace

EndpointList::Ref::Ref(uintptr_t slot) : slot_(slot) {
  if ((slot & kPackedTag) == 0) {
    value_ = *reinterpret_cast<const EndpointInfo*>(slot);
    return;
  }
  const auto& p = *reinterpret_cast<const PackedV4*>(slot & ~kPackedTag);
  std::array<uint8_t, 16> bytes{};
  std::copy(p.address.begin(), p.address.end(), bytes.begin());
  value_.ip = IpAddress::FromBytes(IpFamily::kIPv4, bytes);
  value_.port = p.port;
  value_.ready = (p.flags & kReady) != 0;
  value_.serving = (p.flags & kServing) != 0;
  value_.terminating = (p.flags & kTerminating) != 0;
  value_.is_local = (p.flags & kLocal) != 0;
  value_.hint_zones = ZoneHints::FromIndex(p.hints);
}

EndpointList::EndpointList(const std::vector<EndpointInfo>& endpoints) {
  if (endpoints.empty()) return;
  const bool packed = std::all_of(endpoints.begin(), endpoints.end(), [](const EndpointInfo& e) {
    return e.ip.family() == IpFamily::kIPv4;
  });
  const size_t entry = packed ? sizeof(PackedV4) : sizeof(EndpointInfo);
  void* raw = ::operator new(sizeof(Block) + endpoints.size() * entry);
  auto* block = new (raw) Block;
  block->size = static_cast<uint32_t>(endpoints.size());
  block->owning = true;
  block->packed = packed;
  if (packed) {
    auto* out = reinterpret_cast<PackedV4*>(block + 1);
    for (const EndpointInfo& e : endpoints) {
      PackedV4& p = *new (out++) PackedV4;
      std::copy_n(e.ip.bytes().begin(), 4, p.address.begin());
      p.port = e.port;
      p.flags =
          static_cast<uint8_t>((e.ready ? kReady : 0) | (e.serving ? kServing : 0) |
                               (e.terminating ? kTerminating : 0) | (e.is_local ? kLocal : 0));
      p.hints = e.hint_zones.index();
    }
  } else {
    std::uninitialized_copy(endpoints.begin(), endpoints.end(),
                            reinterpret_cast<EndpointInfo*>(block + 1));
  }
  block_ = block;
}

void EndpointList::Release() {
  const Block* block = std::exchange(block_, nullptr);
  if (block == nullptr || block->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (block->owning) {
    // PackedV4 is trivially destructible.
    if (!block->packed) std::destroy_n(const_cast<EndpointInfo*>(block->Own()), block->size);
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

void EndpointList::Builder::Add(const EndpointList& from, const Ref& ep) {
  Own(from);
  items_.push_back(ep.slot());
}

void EndpointList::Builder::Set(size_t i, const EndpointList& from, const Ref& ep) {
  Own(from);
  items_[i] = ep.slot();
}

EndpointList EndpointList::Builder::Build() && {
  if (items_.empty()) return {};
  // A list that is exactly one owner's entries in order is that owner.
  if (owners_.size() == 1 && owners_.front().size() == items_.size()) {
    const EndpointList& owner = owners_.front();
    bool whole = true;
    for (size_t i = 0; whole && i < items_.size(); ++i) whole = items_[i] == owner.SlotAt(i);
    if (whole) return std::move(owners_.front());
  }
  const size_t bytes =
      sizeof(Block) + items_.size() * sizeof(uintptr_t) + owners_.size() * sizeof(const Block*);
  auto* block = new (::operator new(bytes)) Block;
  block->size = static_cast<uint32_t>(items_.size());
  block->owners = static_cast<uint32_t>(owners_.size());
  auto* slots = reinterpret_cast<uintptr_t*>(block + 1);
  std::copy(items_.begin(), items_.end(), slots);
  auto* owners = reinterpret_cast<const Block**>(slots + items_.size());
  // The new block takes over the builder's references to its owners.
  for (EndpointList& owner : owners_) *owners++ = std::exchange(owner.block_, nullptr);
  EndpointList out;
  out.block_ = block;
  return out;
}

EndpointList EndpointList::SortedByAddress() const {
  if (std::is_sorted(begin(), end(), AddressLess)) return *this;
  std::vector<Ref> refs(begin(), end());
  std::sort(refs.begin(), refs.end(), AddressLess);
  Builder out;
  out.Reserve(size());
  for (const Ref& ep : refs) out.Add(*this, ep);
  return std::move(out).Build();
}

}  // namespace kpx
