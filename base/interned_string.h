#pragma once

#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace kpx {

// An immutable string held once per process: node names and zones repeat on every endpoint of
// every slice (a million times at 100 000 x 10) but take only as many values as the cluster has
// nodes and zones. A value is one pointer; equal values share it, so equality is a pointer
// comparison. Interned text is never freed: the pool grows with the distinct names seen over
// the process's life, which node churn bounds, not endpoint churn. Thread-safe.
//
// Each text is also numbered, densely from 0 (the empty text) up, so that a value can be held
// in 4 bytes where 8 are too many (an endpoint's zone hints); reading a value back from its
// number takes no lock.
class InternedString {
 public:
  InternedString();
  // Implicit, so that the fields it replaced (std::string) keep their assignments and literals.
  InternedString(std::string_view text);  // NOLINT(google-explicit-constructor)
  InternedString(const std::string& text) : InternedString(std::string_view(text)) {}  // NOLINT
  InternedString(const char* text) : InternedString(std::string_view(text)) {}         // NOLINT

  const std::string& str() const { return entry_->text; }
  operator const std::string&() const { return str(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return str().empty(); }
  size_t size() const { return str().size(); }

  // The text's number: 0 for the empty text, and for every text past the first kMaxIndexed
  // (which no cluster's node names, zones and zone lists come near), so that those read back as
  // empty rather than fail.
  uint32_t index() const { return entry_->index; }
  // The value numbered `index`, which must have come from index().
  static InternedString AtIndex(uint32_t index);
  static constexpr uint32_t kMaxIndexed = 1u << 22;

  bool operator==(const InternedString& o) const { return entry_ == o.entry_; }
  bool operator==(const std::string& o) const { return str() == o; }
  bool operator==(std::string_view o) const { return str() == o; }
  bool operator==(const char* o) const { return str() == o; }
  // By text, so sorted containers do not depend on the pool's addresses.
  std::strong_ordering operator<=>(const InternedString& o) const { return str() <=> o.str(); }

  struct Entry {
    Entry(std::string_view t, uint32_t i) : text(t), index(i) {}
    std::string text;
    uint32_t index;
  };

 private:
  explicit InternedString(const Entry* entry) : entry_(entry) {}

  const Entry* entry_;
};

inline std::ostream& operator<<(std::ostream& os, const InternedString& s) { return os << s.str(); }
inline std::string operator+(const std::string& a, const InternedString& b) { return a + b.str(); }
inline std::string operator+(const char* a, const InternedString& b) { return a + b.str(); }
inline std::string operator+(const InternedString& a, const std::string& b) { return a.str() + b; }
inline std::string operator+(const InternedString& a, const char* b) { return a.str() + b; }

}  // namespace kpx
