#include "proxier/netfilter/xt_rules.h"

#include <utility>

namespace kpx {

XtRules::XtRules(std::initializer_list<XtRule> rules) {
  for (const XtRule& r : rules) Append(r);
}

XtRules::XtRules(const std::vector<XtRule>& rules) {
  for (const XtRule& r : rules) Append(r);
}

XtRules::XtRules(const XtRules& o) { AppendRecords(o.data(), o.bytes_, o.count_); }

XtRules& XtRules::operator=(const XtRules& o) {
  if (this != &o) {
    XtRules copy(o);
    *this = std::move(copy);
  }
  return *this;
}

XtRules::XtRules(XtRules&& o) noexcept
    : arena_(std::exchange(o.arena_, nullptr)),
      region_(std::exchange(o.region_, nullptr)),
      own_(std::move(o.own_)),
      bytes_(std::exchange(o.bytes_, 0)),
      count_(std::exchange(o.count_, 0)) {
  o.own_.clear();
}

XtRules& XtRules::operator=(XtRules&& o) noexcept {
  if (this != &o) {
    arena_ = std::exchange(o.arena_, nullptr);
    region_ = std::exchange(o.region_, nullptr);
    own_ = std::move(o.own_);
    o.own_.clear();
    bytes_ = std::exchange(o.bytes_, 0);
    count_ = std::exchange(o.count_, 0);
  }
  return *this;
}

unsigned char* XtRules::Extend(size_t more) {
  if (arena_ != nullptr) {
    region_ = arena_->Grow(region_, bytes_, more);
    bytes_ += more;
    return region_ + bytes_ - more;
  }
  own_.resize(bytes_ + more);
  bytes_ += more;
  return own_.data() + bytes_ - more;
}

void XtRules::AppendRecords(const unsigned char* records, size_t bytes, size_t count) {
  if (bytes == 0) return;
  std::memcpy(Extend(bytes), records, bytes);
  count_ += static_cast<uint32_t>(count);
}

void XtRules::Append(std::span<const unsigned char> rule) {
  const size_t padded = Padded(rule.size());
  unsigned char* at = Extend(kHeader + padded);
  const uint32_t size = static_cast<uint32_t>(rule.size());
  std::memcpy(at, &size, sizeof(size));
  std::memset(at + sizeof(size), 0, kHeader - sizeof(size));
  if (!rule.empty()) std::memcpy(at + kHeader, rule.data(), rule.size());
  std::memset(at + kHeader + rule.size(), 0, padded - rule.size());
  ++count_;
}

void XtRules::Prepend(std::span<const unsigned char> rule) {
  const std::vector<unsigned char> rest(data(), data() + bytes_);
  const size_t count = count_;
  clear();
  Append(rule);
  AppendRecords(rest.data(), rest.size(), count);
}

std::span<const unsigned char> XtRules::operator[](size_t i) const {
  Iterator it = begin();
  for (; i > 0; --i) ++it;
  return *it;
}

void XtRules::Compact() {
  if (arena_ == nullptr && own_.capacity() > own_.size() + own_.size() / 4) own_.shrink_to_fit();
}

void XtRules::clear() {
  region_ = nullptr;
  own_.clear();
  bytes_ = 0;
  count_ = 0;
}

}  // namespace kpx
