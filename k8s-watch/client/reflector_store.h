#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

namespace kpx {

enum class WatchEventType { kAdded, kModified, kDeleted };

// What a Reflector feeds: raw API JSON in, handler calls out. The Reflector knows the protocol
// (pagination, resource versions, watch events); the store knows the kind (decoding, filtering,
// the cache and its diff). Called from the reflector's thread only.
class ReflectorStore {
 public:
  virtual ~ReflectorStore() = default;
  // A complete listing is BeginList, AddListPage for every page, CommitList. CommitList diffs the
  // listing against the cache and reports exactly the adds, updates and deletes; a listing that
  // fails half way is simply never committed (the next BeginList discards it).
  virtual void BeginList() = 0;
  virtual void AddListPage(const rapidjson::Value& list) = 0;
  // A page may also arrive one item at a time (the reflector stream-parses large pages): `item`
  // is element `index` of the items of a list of `list_kind` and `api_version` (empty when the
  // list did not say before its items: the store's own list kind).
  virtual void AddListItem(std::string_view list_kind, std::string_view api_version,
                           const rapidjson::Value& item, size_t index) = 0;
  virtual void CommitList() = 0;
  // The object of one ADDED, MODIFIED or DELETED watch event.
  virtual void Apply(WatchEventType type, const rapidjson::Value& object) = 0;
  // True once the first CommitList has told the handler it is synced. Any thread.
  virtual bool synced() const = 0;
};

}  // namespace kpx
