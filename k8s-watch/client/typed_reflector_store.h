#pragma once

#include <glog/logging.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/keyed_set.h"
#include "k8s-watch/client/reflector_store.h"
#include "k8s-watch/decode/list_decoder.h"
#include "k8s-watch/objects/source_stats.h"

namespace kpx {

// The cache of one kind (see api_kinds.h) keyed by "namespace/name", and the only place handler
// methods are called from. Policy for bad input: an object that fails decoding is logged, counted
// in objects_rejected and skipped, and the last good version of it (if any) stays in the cache,
// because the object still exists in the cluster; except for kinds that ask otherwise
// (Kind::kKeepLastGood false: Services), whose last good version is withdrawn, so that a failed
// update never leaves a less restrictive version programmed. Objects the label filter excludes are
// treated as absent, so an object that gains an excluding label is reported deleted.
//
// Handler calls happen with `*dispatch_mu` held: the three stores of one ApiSource run on three
// reflector threads, and handlers may assume one call at a time per source.
template <typename Kind>
class TypedReflectorStore : public ReflectorStore {
 public:
  using Object = typename Kind::Object;
  using Kept = typename Kind::Kept;
  using Handler = typename Kind::Handler;

  TypedReflectorStore(Handler* handler, std::mutex* dispatch_mu, SourceStats* stats)
      : handler_(handler), dispatch_mu_(dispatch_mu), stats_(stats) {
    cache_.max_load_factor(kKeyedSetLoadFactor);
  }

  void BeginList() override {
    listed_.clear();
    failed_keys_.clear();
  }

  void AddListPage(const rapidjson::Value& list) override { TakeListed(ListDecoder::Decode(list)); }

  void AddListItem(std::string_view list_kind, std::string_view api_version,
                   const rapidjson::Value& item, size_t index) override {
    DecodedObjects decoded;
    ListDecoder::DecodeListItem(list_kind.empty() ? Kind::kListKind : list_kind, api_version, item,
                                index, &decoded);
    TakeListed(std::move(decoded));
  }

  void CommitList() override {
    // Objects that failed decoding keep their last good version (unless the kind withdraws it).
    std::set<std::string, std::less<>> kept_over;
    for (const std::string& key : failed_keys_) {
      if (Kind::kKeepLastGood && Cached(key) && !listed_.contains(key)) kept_over.insert(key);
    }
    std::lock_guard<std::mutex> lock(*dispatch_mu_);
    // Deletes first: an address freed by one object may be taken by a new one in the same relist.
    // In key order, as everything else a source delivers.
    std::vector<const Kept*> deleted;
    for (const Kept& kept : cache_) {
      const auto key = Kind::KeyOf(kept);
      if (!listed_.contains(key) && !kept_over.contains(key)) deleted.push_back(&kept);
    }
    std::sort(deleted.begin(), deleted.end(),
              [](const Kept* a, const Kept* b) { return Kind::KeyOf(*a) < Kind::KeyOf(*b); });
    // Named references rather than structured bindings: clang 14 cannot capture bindings in
    // lambdas (a C++20 addition it lacks), and the fuzz build uses clang.
    for (const Kept* kept : deleted) {
      const Object& old_object = Kind::Named(*kept);
      Dispatch([&] { Kind::Delete(handler_, old_object); });
    }
    for (const auto& entry : listed_) {
      const std::string& key = entry.first;
      const Object& object = entry.second;
      auto cached = cache_.find(std::string_view(key));
      if (cached == cache_.end()) {
        Dispatch([&] { Kind::Add(handler_, object); });
      } else if (!Kind::Same(*cached, object)) {
        Dispatch([&] { Kind::Update(handler_, Kind::Named(*cached), object); });
      }
    }
    Cache next;
    next.max_load_factor(kKeyedSetLoadFactor);
    next.reserve(kept_over.size() + listed_.size());
    for (const std::string& key : kept_over) {
      next.insert(cache_.extract(cache_.find(std::string_view(key))));
    }
    for (auto& entry : listed_) next.insert(Kind::Keep(std::move(entry.second)));
    cache_.swap(next);
    listed_.clear();
    failed_keys_.clear();
    VLOG(2) << Kind::kName << ": listed " << cache_.size() << " objects";
    if (!synced_) {
      synced_ = true;
      Kind::Synced(handler_);
    }
  }

  void Apply(WatchEventType type, const rapidjson::Value& object) override {
    DecodedObjects decoded = ListDecoder::Decode(object);
    std::vector<Object>& items = Kind::Items(decoded);
    if (items.size() != 1) {
      RejectForeign(decoded);
      std::string key;
      for (const DecodeFailure& failure : decoded.failures) {
        if (failure.key.empty() || type != WatchEventType::kDeleted) Reject(failure);
        key = failure.key;
      }
      // A deletion needs only the key, so an undecodable final version still removes the object.
      if (type == WatchEventType::kDeleted && !key.empty()) Remove(key);
      if (type != WatchEventType::kDeleted && !key.empty() && !Kind::kKeepLastGood) {
        if (Cached(key)) {
          LOG(WARNING) << Kind::kName << " " << key
                       << ": new version rejected; withdrawing the last good one (fail closed)";
        }
        Remove(key);
      }
      return;
    }
    Object& item = items.front();
    std::string key = item.meta.Key();
    if (type == WatchEventType::kDeleted || Kind::Skip(item)) {
      Remove(key);
      return;
    }
    auto cached = cache_.find(std::string_view(key));
    std::lock_guard<std::mutex> lock(*dispatch_mu_);
    if (cached == cache_.end()) {
      Dispatch([&] { Kind::Add(handler_, item); });
      cache_.insert(Kind::Keep(std::move(item)));
    } else if (!Kind::Same(*cached, item)) {
      // Reported as an update even for ADDED: a re-established watch may replay an object the
      // cache already holds.
      Dispatch([&] { Kind::Update(handler_, Kind::Named(*cached), item); });
      auto node = cache_.extract(cached);  // the same key: its node is reused
      node.value() = Kind::Keep(std::move(item));
      cache_.insert(std::move(node));
    }
  }

  bool synced() const override { return synced_.load(); }

 private:
  // Files one page's (or one item's) decoded objects into the listing in progress.
  void TakeListed(DecodedObjects decoded) {
    for (Object& object : Kind::Items(decoded)) {
      if (Kind::Skip(object)) continue;
      std::string key = object.meta.Key();
      listed_.insert_or_assign(std::move(key), std::move(object));
    }
    for (const DecodeFailure& failure : decoded.failures) {
      Reject(failure);
      if (!failure.key.empty()) failed_keys_.insert(failure.key);
    }
    RejectForeign(decoded);
  }

  bool Cached(const std::string& key) const { return cache_.contains(std::string_view(key)); }

  void Remove(const std::string& key) {
    auto cached = cache_.find(std::string_view(key));
    if (cached == cache_.end()) return;
    auto old = cache_.extract(cached);
    std::lock_guard<std::mutex> lock(*dispatch_mu_);
    Dispatch([&] { Kind::Delete(handler_, Kind::Named(old.value())); });
  }

  template <typename Fn>
  void Dispatch(Fn&& call) {
    // Counted first, so whoever the handler wakes already sees the count.
    stats_->events_received.fetch_add(1, std::memory_order_relaxed);
    call();
  }

  void Reject(const DecodeFailure& failure) {
    if (failure.unsupported) {
      VLOG(4) << Kind::kName << ": skipping " << failure.message;
      return;
    }
    LOG(WARNING) << Kind::kName << ": skipping invalid object: " << failure.message;
    stats_->objects_rejected.fetch_add(1, std::memory_order_relaxed);
  }

  // Objects of another kind than this store's cannot come from a well-behaved server.
  void RejectForeign(DecodedObjects& decoded) {
    const size_t total =
        decoded.services.size() + decoded.endpoint_slices.size() + decoded.nodes.size();
    const size_t foreign = total - Kind::Items(decoded).size();
    if (foreign == 0) return;
    LOG(WARNING) << Kind::kName << ": skipping " << foreign << " object(s) of another kind";
    stats_->objects_rejected.fetch_add(foreign, std::memory_order_relaxed);
  }

  Handler* const handler_;
  std::mutex* const dispatch_mu_;
  SourceStats* const stats_;
  // Keyed by what each kept object names (Kind::KeyOf).
  struct KeptKey {
    auto operator()(const Kept& kept) const { return Kind::KeyOf(kept); }
  };
  using Cache = KeyedSet<Kept, KeptKey>;
  Cache cache_;
  // The listing in progress, and keys of listed objects that failed decoding.
  std::map<std::string, Object, std::less<>> listed_;
  std::set<std::string> failed_keys_;
  std::atomic<bool> synced_{false};
};

}  // namespace kpx
