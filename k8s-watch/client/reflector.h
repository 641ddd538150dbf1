#pragma once

#include <glog/logging.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "k8s-watch/client/api_client.h"
#include "k8s-watch/client/backoff.h"
#include "k8s-watch/client/reflector_store.h"
#include "k8s-watch/objects/source_stats.h"

namespace kpx {

// Keeps a ReflectorStore equal to one resource collection on the API server, the way client-go's
// reflector does: LIST (paginated) then WATCH from the list's resourceVersion with bookmarks.
//  - A watch the server ends (its timeoutSeconds) is resumed from the last resourceVersion seen,
//    without relisting.
//  - 410 Gone (as the HTTP status or as an ERROR event) means the resourceVersion is compacted
//    away: relist, and let the store diff the new listing against its cache.
//  - Any other failure (connection refused or dropped, 5xx, 401/403, unparsable list) is logged
//    and retried after an exponential backoff with jitter; a watch is resumed, a list restarted.
//  - A malformed event line is logged, counted in objects_rejected and skipped; the stream goes on.
// One thread per reflector, started by Start and joined by Stop; the store and its handler are
// only called on that thread.
class Reflector {
 public:
  struct Options {
    std::string resource;  // for log lines: "services"
    std::string path;      // collection path: "/api/v1/services"
    std::string label_selector;
    std::string field_selector;
    int page_size = 500;
    // A list item (one object) larger than this is skipped, logged and counted rather than held.
    // kube-apiserver's objects are at most ~1.5 MiB (etcd's default request limit).
    size_t max_list_item = size_t{16} << 20;
    // Each watch asks the server to end it after a random time in this range, so the watches of
    // many nodes do not expire together (client-go uses 5 to 10 minutes).
    std::chrono::seconds min_watch_timeout{300};
    std::chrono::seconds max_watch_timeout{600};
    Backoff::Policy backoff;
    // A watch that ends cleanly this soon without any event is treated as a failure, so a server
    // that closes every watch at once is not hammered.
    std::chrono::milliseconds min_healthy_watch{1000};
  };

  Reflector(ApiClient* client, ReflectorStore* store, Options options, SourceStats* stats);
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Starts the thread. At most once.
  void Start();
  // Cancels the request in flight and wakes any backoff wait, without waiting. Lets an owner of
  // several reflectors stop them all in parallel before joining.
  void RequestStop();
  // RequestStop, then joins the thread. Idempotent.
  void Stop();
  bool synced() const { return store_->synced(); }
  // Since when the last list or watch failed without a successful one after it (from the start
  // until the first list succeeds); nullopt while the server answers.
  std::optional<std::chrono::steady_clock::time_point> OutOfTouchSince() const;

 private:
  enum class WatchEnd { kClosed, kGone, kError, kStopped };

  void Run();
  Status List();
  // Counts the ADDED/MODIFIED/DELETED events it handled in *events.
  WatchEnd Watch(uint64_t* events);
  // Handles one line of a watch stream; returns false to end the stream.
  bool HandleEvent(std::string_view line, WatchEnd* end, uint64_t* events);
  std::string Query(bool watch, const std::string& continue_token);
  // Sleeps unless stopped first; false when stopping.
  bool Wait(std::chrono::milliseconds delay);
  bool stopping();

  ApiClient* const client_;
  ReflectorStore* const store_;
  const Options options_;
  SourceStats* const stats_;
  Backoff backoff_;
  std::mt19937 rng_;
  std::stop_source cancel_;
  std::string resource_version_;
  bool watched_before_ = false;
  // steady_clock ticks since the epoch; 0 while in touch.
  std::atomic<int64_t> out_of_touch_since_;
  // `limit` of list requests.
  const int page_limit_;
  void InTouch() {
    VLOG(2) << options_.resource << ": in touch";
    out_of_touch_since_.store(0);
  }
  void OutOfTouch();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kpx
