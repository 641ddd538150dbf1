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
  const auto* block =
      reinterpret_cast<const Block*>(slot & ((uintptr_t{1} << kIndexShift) - 1) & ~kPackedTag);
  const size_t i = slot >> kIndexShift;
  std::array<uint8_t, 16> bytes{};
  std::copy_n(block->Address(i), 4, bytes.begin());
  value_.ip = IpAddress::FromBytes(IpFamily::kIPv4, bytes);
  value_.port = block->port;
  const uint8_t flags = block->Flags(i);
  value_.ready = (flags & kReady) != 0;
  value_.serving = (flags & kServing) != 0;
  value_.terminating = (flags & kTerminating) != 0;
  value_.is_local = (flags & kLocal) != 0;
  value_.hint_zones = ZoneHints::FromIndex(block->Hints(i));
}

EndpointList::EndpointList(const std::vector<EndpointInfo>& endpoints) {
  if (endpoints.empty()) return;
  const size_t n = endpoints.size();
  const EndpointInfo& first = endpoints.front();
  bool packed = n < kMaxPacked;
  bool hinted = false;
  for (const EndpointInfo& e : endpoints) {
    packed = packed && e.ip.family() == IpFamily::kIPv4 && e.port == first.port;
    hinted = hinted || !e.hint_zones.empty();
  }
  const size_t packed_bytes = ((5 * n + 3) & ~size_t{3}) + (hinted ? 4 * n : 0);
  const size_t bytes = sizeof(Block) + (packed ? packed_bytes : n * sizeof(EndpointInfo));
  void* raw = ::operator new(bytes);
  if (packed && reinterpret_cast<uintptr_t>(raw) >> kIndexShift != 0) {
    // An address the slots cannot hold beside an index: store EndpointInfos instead.
    ::operator delete(raw);
    packed = false;
    raw = ::operator new(sizeof(Block) + n * sizeof(EndpointInfo));
  }
  auto* block = new (raw) Block;
  block->size = static_cast<uint32_t>(n);
  block->owning = true;
  block->packed = packed;
  if (packed) {
    block->hinted = hinted;
    block->port = first.port;
    auto* out = reinterpret_cast<uint8_t*>(block + 1);
    for (size_t i = 0; i < n; ++i) {
      const EndpointInfo& e = endpoints[i];
      std::copy_n(e.ip.bytes().begin(), 4, out + 4 * i);
      out[4 * n + i] =
          static_cast<uint8_t>((e.ready ? kReady : 0) | (e.serving ? kServing : 0) |
                               (e.terminating ? kTerminating : 0) | (e.is_local ? kLocal : 0));
    }
    if (hinted) {
      auto* hints = reinterpret_cast<uint32_t*>(out + block->HintsOffset());
      for (size_t i = 0; i < n; ++i) hints[i] = endpoints[i].hint_zones.index();
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
    // Packed entries are plain bytes.
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
