#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace kpx {

// An immutable string in 16 bytes: up to 15 characters inline, longer texts (below 4 GiB) in a
// heap block of their own (as std::string's, which takes 32 bytes for the same 15 inline). For
// names held once per object of which there are 100 000s (an EndpointSlice's name in
// EndpointSliceCache), where the 16 bytes decide the malloc chunk the whole record falls in.
class SmallString {
 public:
  SmallString() noexcept { bytes_[kTag] = 0; }
  explicit SmallString(std::string_view text) { Assign(text); }
  SmallString(const SmallString& o) { Assign(o.view()); }
  SmallString(SmallString&& o) noexcept {
    std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
    o.bytes_[kTag] = 0;
  }
  SmallString& operator=(const SmallString& o) {
    if (this != &o) *this = SmallString(o);
    return *this;
  }
  SmallString& operator=(SmallString&& o) noexcept {
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~SmallString() {
    if (OnHeap()) delete[] HeapData();
  }

  std::string_view view() const {
    if (!OnHeap()) return {bytes_, static_cast<size_t>(bytes_[kTag])};
    uint32_t size;
    std::memcpy(&size, bytes_ + sizeof(char*), sizeof(size));
    return {HeapData(), size};
  }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  size_t size() const { return view().size(); }
  bool empty() const { return view().empty(); }

  bool operator==(const SmallString& o) const { return view() == o.view(); }
  bool operator==(std::string_view o) const { return view() == o; }
  std::strong_ordering operator<=>(const SmallString& o) const { return view() <=> o.view(); }
  std::strong_ordering operator<=>(std::string_view o) const { return view() <=> o; }

  static constexpr size_t kInline = 15;

 private:
  // bytes_[kTag]: the inline length (0 to kInline), or kHeapTag with the text's address and
  // 32-bit length at the front.
  static constexpr size_t kTag = 15;
  static constexpr char kHeapTag = -1;

  bool OnHeap() const { return bytes_[kTag] == kHeapTag; }
  char* HeapData() const {
    char* data;
    std::memcpy(&data, bytes_, sizeof(data));
    return data;
  }
  void Assign(std::string_view text) {
    if (text.size() <= kInline) {
      if (!text.empty()) std::memcpy(bytes_, text.data(), text.size());
      bytes_[kTag] = static_cast<char>(text.size());
      return;
    }
    char* data = new char[text.size()];
    std::memcpy(data, text.data(), text.size());
    const auto size = static_cast<uint32_t>(text.size());
    std::memcpy(bytes_, &data, sizeof(data));
    std::memcpy(bytes_ + sizeof(data), &size, sizeof(size));
    bytes_[kTag] = kHeapTag;
  }

  char bytes_[16];
};

}  // namespace kpx
