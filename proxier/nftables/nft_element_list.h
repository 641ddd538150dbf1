#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxier/nftables/nft_elements.h"

namespace kpx {

// One element as NftBatch encodes it, pointing into whoever holds it. `chain` is
// NUL-terminated (or null) so that it goes into the message as it is.
struct NftElementView {
  std::string_view key;
  std::string_view data;
  bool is_verdict = false;
  int32_t verdict = 0;
  const char* chain = nullptr;
};

// The elements of one set, appended and then read back by position, in about the bytes the
// kernel itself holds: a full sync keeps the 1.2 M elements it wants (and on a restart the 1.2 M
// it dumped) at 100 000 x 10, where an NftElement (136 bytes, a std::map node for a dump) cost
// more than the rest of kpx together.
// Keys and data sit in two flat arenas with one stride each (a set's keys have one length; a
// longer one re-strides the arena), with their lengths in a byte each; verdicts, which only a
// few small maps hold, in a side array with their chain names interned.
class NftElementList {
 public:
  // Room for `n` elements of these lengths, so that a list filled to a known size grows once.
  void Reserve(size_t n, size_t key_len, size_t data_len);
  // Appends one element. A key or data longer than 255 bytes (more than the kernel's 64-byte
  // values, start and end of a range included, can make) is refused: false, nothing stored.
  bool Add(std::string_view key, const NftValue& value);
  size_t size() const { return key_lens_.size(); }
  bool empty() const { return key_lens_.empty(); }
  void Clear();
  // Empties the list but keeps its buffers: a batch-sized list refilled many times.
  void Truncate();

  std::string_view KeyAt(size_t i) const { return {keys_.data() + i * key_stride_, key_lens_[i]}; }
  std::string_view DataAt(size_t i) const {
    return !has_data_ ? std::string_view()
                      : std::string_view(data_.data() + i * data_stride_, data_lens_[i]);
  }
  NftElementView ViewAt(size_t i) const;
  NftValue ValueAt(size_t i) const;
  NftElement ElementAt(const std::string& set, size_t i) const;
  bool ValueEquals(size_t i, const NftValue& value) const;
  // Whether element i here and element j of `other` carry the same value.
  bool SameValue(size_t i, const NftElementList& other, size_t j) const;

  // The positions 0..size()-1 ordered by key bytes (ties by position): a full sync walks the
  // wanted and the dumped elements side by side this way without moving either.
  std::vector<uint32_t> SortedByKey() const;
  // The same with each key once, at its first position: a kernel may list a key twice.
  std::vector<uint32_t> SortedByKeyOnce() const;

  // Heap bytes held (capacity, not size), for tests and the memory notes.
  size_t HeapBytes() const;

 private:
  struct Verdict {
    int32_t code = 0;
    uint16_t chain = 0;  // index+1 in chains_, 0 none
    bool is_verdict = false;
  };
  static void Restride(std::vector<char>& arena, size_t count, size_t& stride, size_t new_stride);
  uint16_t InternChain(const std::string& chain);
  const Verdict* VerdictOf(size_t i) const { return has_verdicts_ ? &verdicts_[i] : nullptr; }

  size_t key_stride_ = 0;
  size_t data_stride_ = 0;
  std::vector<char> keys_;          // size() * key_stride_ bytes
  std::vector<char> data_;          // size() * data_stride_ bytes once any element has data
  std::vector<uint8_t> key_lens_;   // each key's length
  std::vector<uint8_t> data_lens_;  // each data's length, once any element has data
  std::vector<Verdict> verdicts_;   // parallel once any element is a verdict
  std::vector<std::string> chains_;
  bool has_data_ = false;
  bool has_verdicts_ = false;
};

}  // namespace kpx
