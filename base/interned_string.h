#pragma once

#include <compare>
#include <ostream>
#include <string>
#include <string_view>

namespace kpx {

// An immutable string held once per process: node names and zones repeat on every endpoint of
// every slice (a million times at 100 000 x 10) but take only as many values as the cluster has
// nodes and zones. A value is one pointer; equal values share it, so equality is a pointer
// comparison. Interned text is never freed: the pool grows with the distinct names seen over
// the process's life, which node churn bounds, not endpoint churn. Thread-safe.
class InternedString {
 public:
  InternedString();
  // Implicit, so that the fields it replaced (std::string) keep their assignments and literals.
  InternedString(std::string_view text);  // NOLINT(google-explicit-constructor)
  InternedString(const std::string& text) : InternedString(std::string_view(text)) {}  // NOLINT
  InternedString(const char* text) : InternedString(std::string_view(text)) {}         // NOLINT

  const std::string& str() const { return *text_; }
  operator const std::string&() const { return *text_; }  // NOLINT(google-explicit-constructor)
  bool empty() const { return text_->empty(); }
  size_t size() const { return text_->size(); }

  bool operator==(const InternedString& o) const { return text_ == o.text_; }
  bool operator==(const std::string& o) const { return *text_ == o; }
  bool operator==(std::string_view o) const { return *text_ == o; }
  bool operator==(const char* o) const { return *text_ == o; }
  // By text, so sorted containers do not depend on the pool's addresses.
  std::strong_ordering operator<=>(const InternedString& o) const { return *text_ <=> *o.text_; }

 private:
  const std::string* text_;
};

inline std::ostream& operator<<(std::ostream& os, const InternedString& s) { return os << s.str(); }
inline std::string operator+(const std::string& a, const InternedString& b) { return a + b.str(); }
inline std::string operator+(const char* a, const InternedString& b) { return a + b.str(); }
inline std::string operator+(const InternedString& a, const std::string& b) { return a.str() + b; }
inline std::string operator+(const InternedString& a, const char* b) { return a.str() + b; }

}  // namespace kpx
