#pragma once

#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace kpx {

// An immutable string held once per process for as long as anyone holds it: a Service's
// namespace, name and port name are copied into every structure that names one of its ports
// (the desired state, its persistent map's keys, the dataplanes' id maps), 100 000 times over
// at scale, and repeat across ports. A value is one pointer; equal values share it, so
// equality is a pointer comparison; copies count references, and the last one frees the text,
// so names of deleted Services do not accumulate (InternedString, for node names and zones,
// keeps its text forever and copies for free). Thread-safe; construction from text takes a
// process-wide lock, copies do not.
class PooledString {
 public:
  PooledString() noexcept : rep_(nullptr) {}
  // Implicit, so that the fields it replaced (std::string) keep their assignments and literals.
  PooledString(std::string_view text);                                             // NOLINT
  PooledString(const std::string& text) : PooledString(std::string_view(text)) {}  // NOLINT
  PooledString(const char* text) : PooledString(std::string_view(text)) {}         // NOLINT
  PooledString(const PooledString& o) noexcept : rep_(o.rep_) { Ref(); }
  PooledString(PooledString&& o) noexcept : rep_(o.rep_) { o.rep_ = nullptr; }
  PooledString& operator=(const PooledString& o) noexcept {
    PooledString copy(o);
    std::swap(rep_, copy.rep_);
    return *this;
  }
  PooledString& operator=(PooledString&& o) noexcept {
    std::swap(rep_, o.rep_);
    return *this;
  }
  ~PooledString() { Unref(); }

  const std::string& str() const;
  operator const std::string&() const { return str(); }  // NOLINT(google-explicit-constructor)
  bool empty() const { return str().empty(); }
  size_t size() const { return str().size(); }

  bool operator==(const PooledString& o) const { return rep_ == o.rep_; }
  bool operator==(const std::string& o) const { return str() == o; }
  bool operator==(std::string_view o) const { return str() == o; }
  bool operator==(const char* o) const { return str() == o; }
  // By text, so sorted containers do not depend on the pool's addresses.
  std::strong_ordering operator<=>(const PooledString& o) const {
    return rep_ == o.rep_ ? std::strong_ordering::equal : str() <=> o.str();
  }

  // Agrees with ==, which compares the pooled texts' addresses, and reads no text: a hash of the
  // address, which differs from run to run (so no order may depend on it).
  size_t Hash() const noexcept { return std::hash<const void*>()(rep_); }

  // Distinct texts held, for tests and the memory notes.
  static size_t PoolSize();

  struct Rep {
    explicit Rep(std::string_view t) : text(t) {}
    std::string text;
    mutable std::atomic<uint32_t> refs{1};
  };

 private:
  void Ref() const {
    if (rep_ != nullptr) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref();

  const Rep* rep_;  // nullptr: the empty string, which no one needs to count
};

inline std::ostream& operator<<(std::ostream& os, const PooledString& s) { return os << s.str(); }
inline std::string operator+(const std::string& a, const PooledString& b) { return a + b.str(); }
inline std::string operator+(const char* a, const PooledString& b) { return a + b.str(); }
inline std::string operator+(const PooledString& a, const std::string& b) { return a.str() + b; }
inline std::string operator+(const PooledString& a, const char* b) { return a.str() + b; }

}  // namespace kpx
