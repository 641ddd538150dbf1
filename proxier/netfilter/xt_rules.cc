#include "proxier/netfilter/xt_rules.h"

namespace kpx {

XtRules::XtRules(std::initializer_list<XtRule> rules) {
  for (const XtRule& r : rules) Append(r);
}

XtRules::XtRules(const std::vector<XtRule>& rules) {
  for (const XtRule& r : rules) Append(r);
}

void XtRules::Append(std::span<const unsigned char> rule) {
  bytes_.insert(bytes_.end(), rule.begin(), rule.end());
  ends_.push_back(static_cast<uint32_t>(bytes_.size()));
}

void XtRules::Prepend(std::span<const unsigned char> rule) {
  bytes_.insert(bytes_.begin(), rule.begin(), rule.end());
  for (uint32_t& e : ends_) e += static_cast<uint32_t>(rule.size());
  ends_.insert(ends_.begin(), static_cast<uint32_t>(rule.size()));
}

void XtRules::Compact() {
  if (bytes_.capacity() > bytes_.size() + bytes_.size() / 4) bytes_.shrink_to_fit();
  if (ends_.capacity() > ends_.size() + ends_.size() / 4) ends_.shrink_to_fit();
}

void XtRules::clear() {
  bytes_.clear();
  ends_.clear();
}

}  // namespace kpx
