#include "proxier/nftables/nft_element_list.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace kpx {

namespace {

constexpr size_t kMaxLen = UINT8_MAX;

}  // namespace

void NftElementList::Reserve(size_t n, size_t key_len, size_t data_len) {
  if (key_len > kMaxLen || data_len > kMaxLen) return;
  if (key_len > key_stride_) Restride(keys_, size(), key_stride_, key_len);
  keys_.reserve(n * key_stride_);
  key_lens_.reserve(n);
  if (data_len > 0) {
    if (!has_data_) data_lens_.resize(size(), 0);
    has_data_ = true;
    if (data_len > data_stride_) Restride(data_, size(), data_stride_, data_len);
    data_.reserve(n * data_stride_);
    data_lens_.reserve(n);
  }
}

void NftElementList::Restride(std::vector<char>& arena, size_t count, size_t& stride,
                              size_t new_stride) {
  // Rare (a set's keys have one length): moves every entry to its wider slot, from the back.
  arena.resize(count * new_stride);
  for (size_t i = count; i-- > 0;) {
    std::memmove(arena.data() + i * new_stride, arena.data() + i * stride, stride);
    std::memset(arena.data() + i * new_stride + stride, 0, new_stride - stride);
  }
  stride = new_stride;
}

uint16_t NftElementList::InternChain(const std::string& chain) {
  if (chain.empty()) return 0;
  for (size_t i = 0; i < chains_.size(); ++i) {
    if (chains_[i] == chain) return static_cast<uint16_t>(i + 1);
  }
  // Chain names are a layout's few dozen; a dump naming more is not kpx's and keeps the first.
  if (chains_.size() >= UINT16_MAX - 1) return 0;
  chains_.push_back(chain);
  return static_cast<uint16_t>(chains_.size());
}

bool NftElementList::Add(std::string_view key, const NftValue& value) {
  if (key.size() > kMaxLen || value.data.size() > kMaxLen) return false;
  const size_t n = size();
  if (key.size() > key_stride_) Restride(keys_, n, key_stride_, key.size());
  keys_.resize((n + 1) * key_stride_);
  std::memcpy(keys_.data() + n * key_stride_, key.data(), key.size());
  std::memset(keys_.data() + n * key_stride_ + key.size(), 0, key_stride_ - key.size());
  if (!value.data.empty() && !has_data_) {
    data_lens_.resize(n, 0);
    has_data_ = true;
  }
  if (has_data_) {
    if (value.data.size() > data_stride_) Restride(data_, n, data_stride_, value.data.size());
    data_.resize((n + 1) * data_stride_);
    std::memcpy(data_.data() + n * data_stride_, value.data.data(), value.data.size());
    std::memset(data_.data() + n * data_stride_ + value.data.size(), 0,
                data_stride_ - value.data.size());
    data_lens_.push_back(static_cast<uint8_t>(value.data.size()));
  }
  const bool verdict = value.is_verdict || value.verdict != 0 || !value.chain.empty();
  if (verdict && !has_verdicts_) {
    verdicts_.resize(n);
    has_verdicts_ = true;
  }
  if (has_verdicts_) {
    verdicts_.push_back(verdict ? Verdict{value.verdict, InternChain(value.chain), value.is_verdict}
                                : Verdict{});
  }
  key_lens_.push_back(static_cast<uint8_t>(key.size()));
  return true;
}

void NftElementList::Clear() { *this = NftElementList(); }

void NftElementList::Truncate() {
  keys_.clear();
  data_.clear();
  key_lens_.clear();
  data_lens_.clear();
  verdicts_.clear();
  chains_.clear();
  has_data_ = has_verdicts_ = false;
}

NftElementView NftElementList::ViewAt(size_t i) const {
  NftElementView v{KeyAt(i), DataAt(i)};
  if (const Verdict* d = VerdictOf(i)) {
    v.is_verdict = d->is_verdict;
    v.verdict = d->code;
    if (d->chain != 0) v.chain = chains_[d->chain - 1].c_str();
  }
  return v;
}

NftValue NftElementList::ValueAt(size_t i) const {
  NftValue v;
  v.data = std::string(DataAt(i));
  if (const Verdict* d = VerdictOf(i)) {
    v.is_verdict = d->is_verdict;
    v.verdict = d->code;
    if (d->chain != 0) v.chain = chains_[d->chain - 1];
  }
  return v;
}

NftElement NftElementList::ElementAt(const std::string& set, size_t i) const {
  return NftElement{set, std::string(KeyAt(i)), ValueAt(i)};
}

bool NftElementList::ValueEquals(size_t i, const NftValue& value) const {
  if (DataAt(i) != value.data) return false;
  const Verdict* d = VerdictOf(i);
  const Verdict none;
  if (d == nullptr) d = &none;
  const std::string_view chain = d->chain != 0 ? std::string_view(chains_[d->chain - 1]) : "";
  return d->is_verdict == value.is_verdict && d->code == value.verdict && chain == value.chain;
}

bool NftElementList::SameValue(size_t i, const NftElementList& other, size_t j) const {
  const NftElementView a = ViewAt(i), b = other.ViewAt(j);
  const std::string_view ca = a.chain != nullptr ? a.chain : "";
  const std::string_view cb = b.chain != nullptr ? b.chain : "";
  return a.data == b.data && a.is_verdict == b.is_verdict && a.verdict == b.verdict && ca == cb;
}

std::vector<uint32_t> NftElementList::SortedByKey() const {
  std::vector<uint32_t> order(size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    const int c = KeyAt(x).compare(KeyAt(y));
    return c < 0 || (c == 0 && x < y);
  });
  return order;
}

std::vector<uint32_t> NftElementList::SortedByKeyOnce() const {
  std::vector<uint32_t> order = SortedByKey();
  order.erase(std::unique(order.begin(), order.end(),
                          [&](uint32_t x, uint32_t y) { return KeyAt(x) == KeyAt(y); }),
              order.end());
  return order;
}

size_t NftElementList::HeapBytes() const {
  size_t n = keys_.capacity() + data_.capacity() + key_lens_.capacity() + data_lens_.capacity() +
             verdicts_.capacity() * sizeof(Verdict) + chains_.capacity() * sizeof(std::string);
  for (const auto& c : chains_) n += c.capacity() > 15 ? c.capacity() + 1 : 0;
  return n;
}

}  // namespace kpx
