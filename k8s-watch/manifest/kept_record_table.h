#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/interned_string.h"
#include "base/slot_index.h"
#include "k8s-watch/objects/object_identity.h"

namespace kpx {

// What a ManifestSource keeps per key (namespace/name) of one kind: the kept object (what was
// delivered), the file defining it when one file does, and a few flags. Records are named by
// handles, which stay valid until the record is erased (its block may move; the handle does not),
// so a file's list of the keys it defines is 4 bytes a key.
//
// Compact because there is one record per Service and per EndpointSlice, 100 000s of them: a
// record is one malloc block holding the file, the flags and, for kept objects that are an
// identity and a digest (KeptService, KeptSlice), the digest and the identity's encoded bytes
// themselves; the block is found through a SlotIndex and a handle's slot. At 100 000 Services x 10
// endpoints that is a 64-byte chunk and ~17 bytes of slot, index and handle an object, where a
// hash-set node (a 64-byte chunk), the identity's own block (a 32- or 48-byte chunk), the file's
// 8-byte pointer and the bucket array were ~120 (issue 15: 6 MiB less over the Services and
// their slices). Other kept kinds (a Node, kept whole) are held in a heap object of their own.
template <typename Kept>
class KeptRecordTable {
 public:
  using Handle = uint32_t;
  static constexpr Handle kNone = SlotIndex::kEmpty;
  enum Flag : uint8_t {
    kDelivered = 1,      // the kept object is what the handlers were given
    kFileDelivered = 2,  // the definition in file() is known to be the delivered version
    kMore = 4,           // several files define the key (their definitions are kept elsewhere)
    // The kept object was made from the decoded definition of file() the source still holds
    // (the record was just made from it), so delivering that definition need not make it again.
    kKeptFromPending = 8,
  };

  KeptRecordTable() = default;
  KeptRecordTable(const KeptRecordTable&) = delete;
  KeptRecordTable& operator=(const KeptRecordTable&) = delete;
  ~KeptRecordTable() {
    for (Handle h = 0; h < handles_; ++h) {
      if (char* block = Block(h)) Free(block);
    }
  }

  size_t size() const { return index_.size(); }
  // kNone when no record has this key.
  Handle Find(std::string_view key) const {
    if (index_.size() == 0) return kNone;
    return index_.at(Position(key));
  }
  // A record for `key`, which must have none, keeping `kept` (whose key it is), defined by
  // `file`, no flag set.
  Handle Insert(std::string_view key, const Kept& kept, const InternedString& file) {
    index_.Reserve([&](Handle h) { return Hash(Key(h)); });
    char* block = Allocate(key, kept);
    new (block) InternedString(file);
    Handle h;
    if (!free_.empty()) {
      h = free_.back();
      free_.pop_back();
    } else {
      h = handles_;
      if (h % kChunk == 0) chunks_.push_back(std::make_unique<char*[]>(kChunk));
      ++handles_;
    }
    Block(h) = block;
    index_.Insert(Position(Key(h)), h);
    return h;
  }
  // The handle may be given to a later Insert.
  void Erase(Handle h) {
    index_.Erase(Position(Key(h)), [&](Handle other) { return Hash(Key(other)); });
    Free(std::exchange(Block(h), nullptr));
    free_.push_back(h);
  }

  std::string_view Key(Handle h) const {
    const char* p = Payload(Block(h));
    if constexpr (kPacked) return ObjectIdentity::KeyIn(p + kDigestSize);
    return WholeAt(p)->key;
  }
  // The kept object, rebuilt (for the rare events that hand it over or copy it).
  Kept kept(Handle h) const {
    const char* p = Payload(Block(h));
    if constexpr (kPacked) {
      typename Kept::Digest digest;
      std::memcpy(digest.data(), p, kDigestSize);
      p += kDigestSize;
      return Kept(ObjectIdentity::FromBytes({p, ObjectIdentity::SizeIn(p)}), digest);
    }
    return WholeAt(p)->kept;
  }
  // Whether kept(h) == `k`, without rebuilding it.
  bool Holds(Handle h, const Kept& k) const {
    const char* p = Payload(Block(h));
    if constexpr (kPacked) {
      const std::string_view held(p + kDigestSize, ObjectIdentity::SizeIn(p + kDigestSize));
      return std::memcmp(p, k.content().data(), kDigestSize) == 0 && held == IdentityBytes(k);
    }
    return WholeAt(p)->kept == k;
  }
  // Replaces the kept object by `k`, which has the same key.
  void SetKept(Handle h, const Kept& k) {
    char* old = Block(h);
    if constexpr (kPacked) {
      const char* p = Payload(old);
      if (ObjectIdentity::SizeIn(p + kDigestSize) == IdentityBytes(k).size()) {
        Pack(k, Payload(old));
        return;
      }
      char* block = Allocate(Key(h), k);
      new (block) InternedString(file(h));
      block[sizeof(InternedString)] = old[sizeof(InternedString)];
      Free(old);
      Block(h) = block;
    } else {
      WholeAt(Payload(old))->kept = k;
    }
  }

  const InternedString& file(Handle h) const {
    return *std::launder(reinterpret_cast<const InternedString*>(Block(h)));
  }
  void set_file(Handle h, const InternedString& file) {
    *std::launder(reinterpret_cast<InternedString*>(Block(h))) = file;
  }
  bool flag(Handle h, Flag f) const { return (Block(h)[sizeof(InternedString)] & f) != 0; }
  void set_flag(Handle h, Flag f, bool on) {
    char& flags = Block(h)[sizeof(InternedString)];
    flags = static_cast<char>(on ? (flags | f) : (flags & ~f));
  }

 private:
  static constexpr bool kPacked = requires(const Kept& k) {
    k.id().Bytes();
    k.content();
  };
  // For a packed kind, the size of its digest; otherwise unused.
  static constexpr size_t kDigestSize = [] {
    if constexpr (kPacked) {
      return sizeof(typename Kept::Digest);
    } else {
      return size_t{0};
    }
  }();
  // A kept object held whole, with its key (which it may not hold as text).
  struct Whole {
    std::string key;
    Kept kept;
  };

  // The block: the file, the flags byte, then the payload (packed or a Whole's address).
  static char* Payload(char* block) { return block + sizeof(InternedString) + 1; }
  static const char* Payload(const char* block) { return block + sizeof(InternedString) + 1; }
  static Whole* WholeAt(const char* payload) {
    Whole* whole;
    std::memcpy(&whole, payload, sizeof(whole));
    return whole;
  }
  // A default identity has no bytes; the identity of empty metadata, which equals it, has.
  static std::string_view IdentityBytes(const Kept& k) {
    static const ObjectIdentity kEmpty = ObjectIdentity::Of(ObjectMeta());
    const std::string_view bytes = k.id().Bytes();
    return bytes.empty() ? kEmpty.Bytes() : bytes;
  }
  static void Pack(const Kept& k, char* payload) {
    std::memcpy(payload, k.content().data(), kDigestSize);
    const std::string_view id = IdentityBytes(k);
    std::memcpy(payload + kDigestSize, id.data(), id.size());
  }
  // A block with its payload written and its file and flags not yet (flags zero).
  static char* Allocate(std::string_view key, const Kept& kept) {
    size_t payload = sizeof(Whole*);
    if constexpr (kPacked) payload = kDigestSize + IdentityBytes(kept).size();
    char* block = static_cast<char*>(::operator new(sizeof(InternedString) + 1 + payload));
    block[sizeof(InternedString)] = 0;
    if constexpr (kPacked) {
      Pack(kept, Payload(block));
    } else {
      try {
        Whole* whole = new Whole{std::string(key), kept};
        std::memcpy(Payload(block), &whole, sizeof(whole));
      } catch (...) {
        ::operator delete(block);
        throw;
      }
    }
    return block;
  }
  static void Free(char* block) {
    if constexpr (!kPacked) delete WholeAt(Payload(block));
    std::destroy_at(std::launder(reinterpret_cast<InternedString*>(block)));
    ::operator delete(block);
  }
  static size_t Hash(std::string_view key) { return std::hash<std::string_view>()(key); }
  size_t Position(std::string_view key) const {
    return index_.Find(Hash(key), [&](Handle h) { return Key(h) == key; });
  }

  // The blocks by handle (null for a free one), in chunks: a vector that doubled would hold up to
  // twice the room, and leave its old array as a hole in the heap each time.
  static constexpr Handle kChunk = 1024;
  char*& Block(Handle h) const { return chunks_[h / kChunk][h % kChunk]; }
  std::vector<std::unique_ptr<char*[]>> chunks_;
  Handle handles_ = 0;        // handed out: [0, handles_)
  std::vector<Handle> free_;  // erased handles, reused first
  SlotIndex index_;
};

}  // namespace kpx
