#include "k8s-watch/objects/object_identity.h"

#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <optional>

namespace kpx {
namespace {

constexpr size_t kUuidTextSize = 36;
constexpr size_t kUuidSize = 16;
// The first byte of a block: bit 0 says how the uid is stored, bit 1 that the extra text is the
// start of the name (a slice named after its service, as the controller names them) and so not
// stored again, the others are the tag.
constexpr unsigned kUidRaw = 1;
constexpr unsigned kExtraInName = 2;
constexpr unsigned kTagShift = 2;

bool IsDash(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: only the form that prints back identically is packed
}

// The 16 bytes of a canonical (lower-case, dashed) UUID; nullopt for anything else, which is then
// kept as text so that every uid reads back exactly as it came.
std::optional<std::array<unsigned char, kUuidSize>> PackUuid(std::string_view text) {
  if (text.size() != kUuidTextSize) return std::nullopt;
  std::array<unsigned char, kUuidSize> raw{};
  size_t out = 0;
  for (size_t i = 0; i < text.size();) {
    if (IsDash(i)) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    raw[out++] = static_cast<unsigned char>(hi << 4 | lo);
    i += 2;
  }
  return raw;
}

std::string UnpackUuid(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(kUuidTextSize);
  for (size_t i = 0; i < kUuidSize; ++i) {
    if (IsDash(text.size())) text.push_back('-');
    const auto b = static_cast<unsigned char>(raw[i]);
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 15]);
  }
  return text;
}

size_t VarintSize(size_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutVarint(char* p, size_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

size_t GetVarint(const char** p) {
  size_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = static_cast<unsigned char>(*(*p)++);
    v |= size_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return v;
  }
}

}  // namespace

struct ObjectIdentity::Layout {
  std::string_view key;
  size_t namespace_size = 0;  // the namespace is the key's first namespace_size characters
  std::string_view name;
  std::string_view extra;
  bool uid_raw = false;
  unsigned tag = 0;
  std::string_view uid;  // 16 bytes when uid_raw, else the text
  std::string_view resource_version;
  size_t size = 0;  // of the whole block
};

ObjectIdentity ObjectIdentity::Of(const ObjectMeta& m, std::string_view extra, unsigned tag) {
  assert(tag < kTagLimit);
  const auto raw_uid = PackUuid(m.uid);
  const size_t slash = m.namespace_.empty() ? 0 : 1;
  const size_t key_size = m.namespace_.size() + slash + m.name.size();
  const size_t uid_size = raw_uid ? kUuidSize : m.uid.size();
  const bool extra_in_name = !extra.empty() && m.name.starts_with(extra);
  const std::string_view stored_extra = extra_in_name ? std::string_view() : extra;
  size_t size = 1 + VarintSize(m.namespace_.size()) + VarintSize(m.name.size()) +
                VarintSize(extra.size()) + VarintSize(m.resource_version.size()) + key_size +
                stored_extra.size() + uid_size + m.resource_version.size();
  if (!raw_uid) size += VarintSize(m.uid.size());

  ObjectIdentity id;
  id.block_ = std::make_unique_for_overwrite<char[]>(size);
  char* p = id.block_.get();
  *p++ = static_cast<char>((raw_uid ? kUidRaw : 0) | (extra_in_name ? kExtraInName : 0) |
                           (tag % kTagLimit) << kTagShift);
  p = PutVarint(p, m.namespace_.size());
  p = PutVarint(p, m.name.size());
  p = PutVarint(p, extra.size());
  if (!raw_uid) p = PutVarint(p, m.uid.size());
  p = PutVarint(p, m.resource_version.size());
  auto put = [&p](std::string_view s) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(m.namespace_);
  if (slash != 0) *p++ = '/';
  put(m.name);
  put(stored_extra);
  if (raw_uid) {
    put(std::string_view(reinterpret_cast<const char*>(raw_uid->data()), raw_uid->size()));
  } else {
    put(m.uid);
  }
  put(m.resource_version);
  return id;
}

ObjectIdentity::Layout ObjectIdentity::Parse() const {
  if (block_ == nullptr) return Layout();
  return ParseAt(block_.get());
}

ObjectIdentity::Layout ObjectIdentity::ParseAt(const char* block) {
  Layout l;
  const char* p = block;
  const auto form = static_cast<unsigned char>(*p++);
  l.uid_raw = (form & kUidRaw) != 0;
  const bool extra_in_name = (form & kExtraInName) != 0;
  l.tag = form >> kTagShift;
  l.namespace_size = GetVarint(&p);
  const size_t name_size = GetVarint(&p);
  const size_t extra_size = GetVarint(&p);
  const size_t uid_size = l.uid_raw ? kUuidSize : GetVarint(&p);
  const size_t rv_size = GetVarint(&p);
  const size_t slash = l.namespace_size == 0 ? 0 : 1;
  auto take = [&p](size_t n) {
    std::string_view s(p, n);
    p += n;
    return s;
  };
  l.key = take(l.namespace_size + slash + name_size);
  l.name = l.key.substr(l.namespace_size + slash);
  l.extra = extra_in_name ? l.name.substr(0, extra_size) : take(extra_size);
  l.uid = take(uid_size);
  l.resource_version = take(rv_size);
  l.size = static_cast<size_t>(p - block);
  return l;
}

std::string_view ObjectIdentity::Bytes() const {
  if (block_ == nullptr) return {};
  return {block_.get(), Parse().size};
}

ObjectIdentity ObjectIdentity::FromBytes(std::string_view bytes) {
  ObjectIdentity id;
  if (bytes.empty()) return id;
  assert(ParseAt(bytes.data()).size == bytes.size());
  id.block_ = std::make_unique_for_overwrite<char[]>(bytes.size());
  std::memcpy(id.block_.get(), bytes.data(), bytes.size());
  return id;
}

std::string_view ObjectIdentity::KeyIn(const char* bytes) { return ParseAt(bytes).key; }
size_t ObjectIdentity::SizeIn(const char* bytes) { return ParseAt(bytes).size; }

ObjectIdentity::ObjectIdentity(const ObjectIdentity& o) { *this = o; }

ObjectIdentity& ObjectIdentity::operator=(const ObjectIdentity& o) {
  if (this == &o) return *this;
  if (o.block_ == nullptr) {
    block_.reset();
    return *this;
  }
  const size_t size = o.Parse().size;
  block_ = std::make_unique_for_overwrite<char[]>(size);
  std::memcpy(block_.get(), o.block_.get(), size);
  return *this;
}

ObjectMeta ObjectIdentity::Meta() const {
  ObjectMeta m;
  m.name = name();
  m.namespace_ = namespace_();
  m.uid = uid();
  m.resource_version = resource_version();
  return m;
}

bool ObjectIdentity::Matches(const ObjectMeta& m, std::string_view extra, unsigned tag) const {
  const Layout l = Parse();
  if (l.tag != tag || l.name != m.name || l.key.substr(0, l.namespace_size) != m.namespace_ ||
      l.extra != extra || l.resource_version != m.resource_version) {
    return false;
  }
  if (!l.uid_raw) return l.uid == m.uid;
  const auto raw = PackUuid(m.uid);
  return raw && std::memcmp(raw->data(), l.uid.data(), kUuidSize) == 0;
}

std::string_view ObjectIdentity::Key() const { return Parse().key; }
std::string_view ObjectIdentity::name() const { return Parse().name; }
std::string_view ObjectIdentity::extra() const { return Parse().extra; }
unsigned ObjectIdentity::tag() const { return Parse().tag; }
std::string_view ObjectIdentity::resource_version() const { return Parse().resource_version; }

std::string_view ObjectIdentity::namespace_() const {
  const Layout l = Parse();
  return l.key.substr(0, l.namespace_size);
}

std::string ObjectIdentity::uid() const {
  const Layout l = Parse();
  return l.uid_raw ? UnpackUuid(l.uid) : std::string(l.uid);
}

bool ObjectIdentity::operator==(const ObjectIdentity& o) const {
  const Layout a = Parse();
  const Layout b = o.Parse();
  if (a.size == 0 || b.size == 0) {
    // A default identity equals one built from empty metadata.
    return a.tag == 0 && b.tag == 0 && a.key.empty() && b.key.empty() && a.extra.empty() &&
           b.extra.empty() && a.uid.empty() && b.uid.empty() && a.resource_version.empty() &&
           b.resource_version.empty();
  }
  return a.size == b.size && std::memcmp(block_.get(), o.block_.get(), a.size) == 0;
}

}  // namespace kpx
