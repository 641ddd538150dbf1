#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace kpx {

// One rule as EncodeIptEntry writes it (libiptc's user form): a standard target names its verdict
// ("ACCEPT", "DROP", "RETURN", "" for fall through) or the user chain it jumps to.
using XtRule = std::vector<unsigned char>;

// A chain's new rules in that form, back to back in one buffer, as they will lie in the table. A
// full sync adds 320 000 rules to 110 000 chains: one allocation per rule, scattered over the
// heap, made laying the table out wait on memory for each rule three times over.
class XtRules {
 public:
  XtRules() = default;
  XtRules(std::initializer_list<XtRule> rules);
  explicit XtRules(const std::vector<XtRule>& rules);

  void Append(std::span<const unsigned char> rule);
  void Prepend(std::span<const unsigned char> rule);  // iptables -I: rare, so it moves the rest
  // Appends the rule that `encode` adds to the end of the buffer it is given (the buffer is
  // cut back if it returns false).
  template <typename Encode>
  bool AppendEncoded(Encode&& encode) {
    const size_t at = bytes_.size();
    if (!encode(bytes_)) {
      bytes_.resize(at);
      return false;
    }
    ends_.push_back(static_cast<uint32_t>(bytes_.size()));
    return true;
  }
  void clear();
  // Gives back the room growing left when it is more than a quarter of what is used: a chain's
  // buffer doubles as its rules come in, and 10 000 service chains of 2 KiB held 4 KiB each.
  void Compact();

  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  std::span<const unsigned char> operator[](size_t i) const {
    const uint32_t from = i == 0 ? 0 : ends_[i - 1];
    return {bytes_.data() + from, ends_[i] - from};
  }

  class Iterator {
   public:
    Iterator(const XtRules* rules, size_t i) : rules_(rules), i_(i) {}
    std::span<const unsigned char> operator*() const { return (*rules_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const XtRules* rules_;
    size_t i_;
  };
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, ends_.size()}; }

 private:
  std::vector<unsigned char> bytes_;
  std::vector<uint32_t> ends_;  // per rule: where it ends in bytes_
};

}  // namespace kpx
