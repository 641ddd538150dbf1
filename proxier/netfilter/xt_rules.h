#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <vector>

#include "proxier/netfilter/xt_rule_arena.h"

namespace kpx {

// One rule as EncodeIptEntry writes it (libiptc's user form): a standard target names its verdict
// ("ACCEPT", "DROP", "RETURN", "" for fall through) or the user chain it jumps to.
using XtRule = std::vector<unsigned char>;

// A chain's new rules in that form, back to back in one region, each behind an 8-byte header
// with its size (rules keep their 8-byte alignment). A full sync adds 320 000 rules to 110 000
// chains: a heap block per rule, and then a growing heap buffer per chain, made laying the table
// out wait on memory for each rule; one more per chain for the rules' ends cost a malloc each.
// The region is the rules' own buffer, or, given an arena, a region of it (how a restore
// section's plan encodes, with no heap block per chain at all). A copy is always its own buffer.
class XtRules {
 public:
  XtRules() = default;
  explicit XtRules(XtRuleArena* arena) : arena_(arena) {}
  XtRules(std::initializer_list<XtRule> rules);
  explicit XtRules(const std::vector<XtRule>& rules);
  XtRules(const XtRules& o);
  XtRules& operator=(const XtRules& o);
  XtRules(XtRules&& o) noexcept;
  XtRules& operator=(XtRules&& o) noexcept;
  ~XtRules() = default;

  void Append(std::span<const unsigned char> rule);
  void Prepend(std::span<const unsigned char> rule);  // iptables -I: rare, so it moves the rest
  // Appends the rule that `encode` adds to the (empty) buffer it is given; nothing when it
  // returns false.
  template <typename Encode>
  bool AppendEncoded(Encode&& encode) {
    // One buffer per thread, reused: the rule is encoded where it stays in cache and then
    // copied to its place.
    thread_local std::vector<unsigned char> scratch;
    scratch.clear();
    if (!encode(scratch)) return false;
    Append(scratch);
    return true;
  }
  void clear();
  // Gives back the room growing left when it is more than a quarter of what is used (a chain's
  // own buffer doubles as its rules come in); an arena's region has none.
  void Compact();

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The i-th rule; walks the rules before it.
  std::span<const unsigned char> operator[](size_t i) const;

  class Iterator {
   public:
    explicit Iterator(const unsigned char* at) : at_(at) {}
    std::span<const unsigned char> operator*() const { return {at_ + kHeader, Size(at_)}; }
    Iterator& operator++() {
      at_ += kHeader + Padded(Size(at_));
      return *this;
    }
    bool operator==(const Iterator& o) const { return at_ == o.at_; }

   private:
    const unsigned char* at_;
  };
  Iterator begin() const { return Iterator(data()); }
  Iterator end() const { return Iterator(data() + bytes_); }

 private:
  static constexpr size_t kHeader = 8;
  static size_t Padded(size_t n) { return (n + 7) & ~size_t{7}; }
  static uint32_t Size(const unsigned char* header) {
    uint32_t n;
    std::memcpy(&n, header, sizeof(n));
    return n;
  }
  const unsigned char* data() const { return arena_ != nullptr ? region_ : own_.data(); }
  // Room for `more` bytes after the rules; returns where they go.
  unsigned char* Extend(size_t more);
  // Appends `bytes` of records holding `count` rules.
  void AppendRecords(const unsigned char* records, size_t bytes, size_t count);

  XtRuleArena* arena_ = nullptr;
  unsigned char* region_ = nullptr;  // in arena_
  std::vector<unsigned char> own_;   // without an arena
  size_t bytes_ = 0;
  uint32_t count_ = 0;
};

}  // namespace kpx
