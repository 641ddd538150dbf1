#include "k8s-watch/client/reflector.h"

#include <glog/logging.h>

#include "k8s-watch/client/list_item_splitter.h"
#include "k8s-watch/decode/json_fields.h"
#include "k8s-watch/decode/json_text.h"

namespace kpx {

namespace {

constexpr int kGone = 410;
// Restarting a paginated list whose continue token expired; beyond this, back off.
constexpr int kMaxContinueRestarts = 3;
// A list page without its items: kind, apiVersion and metadata (resourceVersion, continue).
constexpr size_t kMaxListEnvelope = size_t{1} << 20;

std::string StringAt(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return std::string();
  const rapidjson::Value* v = json::Member(object, key);
  if (v == nullptr || !v->IsString()) return std::string();
  return std::string(v->GetString(), v->GetStringLength());
}

std::string MetadataString(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return std::string();
  const rapidjson::Value* meta = json::Member(object, "metadata");
  return meta == nullptr ? std::string() : StringAt(*meta, key);
}

// The metav1.Status the API server sends with errors: its code (or 0) and message.
int StatusCode(const rapidjson::Value& status) {
  if (!status.IsObject()) return 0;
  const rapidjson::Value* code = json::Member(status, "code");
  return code != nullptr && code->IsInt() ? code->GetInt() : 0;
}

// "HTTP 403: services is forbidden: ..." from a non-200 answer, message capped for the log.
std::string DescribeFailure(const ApiClient::Response& response) {
  std::string text = "HTTP " + std::to_string(response.status);
  rapidjson::Document doc;
  if (JsonText::Parse(response.body, &doc).ok()) {
    const std::string message = StringAt(doc, "message");
    if (!message.empty()) text += ": " + json::Quote(message);
  }
  return text;
}

bool IsTooOldResourceVersion(const rapidjson::Value& status) {
  const std::string reason = StringAt(status, "reason");
  const std::string message = StringAt(status, "message");
  return StatusCode(status) == kGone || reason == "Expired" || reason == "Gone" ||
         message.find("too old resource version") != std::string::npos;
}

}  // namespace

Reflector::Reflector(ApiClient* client, ReflectorStore* store, Options options, SourceStats* stats)
    : client_(client),
      store_(store),
      options_(std::move(options)),
      stats_(stats),
      backoff_(options_.backoff),
      rng_(std::random_device{}()),
      out_of_touch_since_(std::chrono::steady_clock::now().time_since_epoch().count()),
      page_limit_(std::max(1, options_.page_size)) {}

Reflector::~Reflector() { Stop(); }

void Reflector::Start() {
  CHECK(!thread_.joinable()) << "Reflector::Start called twice";
  thread_ = std::thread([this] { Run(); });
}

void Reflector::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  cancel_.request_stop();
}

void Reflector::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

bool Reflector::stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool Reflector::Wait(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_; });
}

std::optional<std::chrono::steady_clock::time_point> Reflector::OutOfTouchSince() const {
  const int64_t since = out_of_touch_since_.load();
  if (since == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(since));
}

void Reflector::OutOfTouch() {
  VLOG(2) << options_.resource << ": out of touch";
  int64_t expected = 0;
  out_of_touch_since_.compare_exchange_strong(
      expected, std::chrono::steady_clock::now().time_since_epoch().count());
}

void Reflector::Run() {
  bool need_list = true;
  bool listed_before = false;
  // Watches in a row that hit 410 Gone at once: a server that expires every fresh
  // resourceVersion must not turn the reflector into a relist loop.
  int consecutive_gone = 0;
  while (!stopping()) {
    if (need_list) {
      Status s = List();
      if (stopping()) break;
      if (s.ok()) InTouch();
      if (!s.ok()) {
        OutOfTouch();
        const auto delay = backoff_.Next();
        LOG(WARNING) << options_.resource << ": list failed, retrying in " << delay.count()
                     << "ms: " << s.message();
        if (!Wait(delay)) break;
        continue;
      }
      if (listed_before) stats_->relists.fetch_add(1, std::memory_order_relaxed);
      listed_before = true;
      need_list = false;
      // A list that follows watches expiring at once does not prove the server healthy: keep
      // backing off, or a 410 loop becomes a relist loop against a struggling API server.
      if (consecutive_gone == 0) backoff_.Reset();
    }

    if (watched_before_) stats_->watch_restarts.fetch_add(1, std::memory_order_relaxed);
    watched_before_ = true;
    const auto started = std::chrono::steady_clock::now();
    uint64_t events = 0;
    WatchEnd end = Watch(&events);
    const auto lasted = std::chrono::steady_clock::now() - started;
    // A watch that lasted ends a row of watches expiring at once, however it ended: otherwise
    // the one 410 after a server restart with compacted history, long after a 410 loop, waits
    // out that loop's backoff before relisting.
    if (lasted >= options_.min_healthy_watch) consecutive_gone = 0;
    switch (end) {
      case WatchEnd::kStopped:
        return;
      case WatchEnd::kGone:
        InTouch();
        LOG(INFO) << options_.resource << ": resourceVersion " << resource_version_
                  << " expired, relisting";
        need_list = true;
        // Only time counts here: a watch that expires within a second of starting is the loop
        // this guards against, even when it delivered an event (or a bookmark) first.
        if (lasted < options_.min_healthy_watch && ++consecutive_gone > 1 &&
            !Wait(backoff_.Next())) {
          return;
        }
        break;
      case WatchEnd::kClosed:
        InTouch();
        if (events > 0 || lasted >= options_.min_healthy_watch) {
          backoff_.Reset();
          VLOG(2) << options_.resource << ": watch ended, resuming from " << resource_version_;
        } else if (!Wait(backoff_.Next())) {
          return;
        }
        break;
      case WatchEnd::kError:
        OutOfTouch();
        // A broken stream also ends a row of watches expiring at once: the 410 that greets the
        // reconnection after an outage is history compacted while nothing could watch, not a
        // server expiring every fresh resourceVersion, and this path waits out the backoff
        // anyway. Counted, it made the relist after a restart wait out an earlier 410 loop's
        // backoff (up to 30 s) on top of the outage's, with deleted objects kept meanwhile.
        consecutive_gone = 0;
        // A stream that delivered events, or lasted, was healthy until it broke: retry soon, not
        // after a delay grown in an earlier 410 loop or outage.
        if (events > 0 || lasted >= options_.min_healthy_watch) backoff_.Reset();
        if (!Wait(backoff_.Next())) return;
        break;
    }
  }
}

std::string Reflector::Query(bool watch, const std::string& continue_token) {
  std::string q;
  auto add = [&q](const std::string& key, const std::string& value) {
    q += q.empty() ? "?" : "&";
    q += key + "=" + ApiClient::QueryEscape(value);
  };
  if (watch) {
    add("watch", "true");
    add("allowWatchBookmarks", "true");
    add("resourceVersion", resource_version_);
    std::uniform_int_distribution<int64_t> timeout(options_.min_watch_timeout.count(),
                                                   options_.max_watch_timeout.count());
    add("timeoutSeconds", std::to_string(timeout(rng_)));
  } else {
    add("limit", std::to_string(page_limit_));
    if (!continue_token.empty()) add("continue", continue_token);
  }
  if (!options_.label_selector.empty()) add("labelSelector", options_.label_selector);
  if (!options_.field_selector.empty()) add("fieldSelector", options_.field_selector);
  return options_.path + q;
}

Status Reflector::List() {
  store_->BeginList();
  std::string continue_token;
  std::string resource_version;
  int restarts = 0;
  size_t pages = 0;
  for (;;) {
    // The page is parsed as it arrives, one item at a time: `limit` is only advice to the server,
    // and a page of any size costs the decoded objects, not its text.
    ListItemSplitter splitter(options_.max_list_item, kMaxListEnvelope);
    std::string list_kind;
    std::string api_version;
    size_t index = 0;
    Status item_error = Status::Ok();
    ListItemSplitter::Callbacks callbacks;
    callbacks.on_items_start = [&](std::string_view envelope) {
      rapidjson::Document head;
      if (JsonText::Parse(envelope, &head).ok()) {
        list_kind = StringAt(head, "kind");
        api_version = StringAt(head, "apiVersion");
      }
      return true;
    };
    callbacks.on_item = [&](std::string_view text) {
      rapidjson::Document item;
      if (Status s = JsonText::Parse(text, &item); !s.ok()) {
        // A broken body, not a bad object: the page is not trusted.
        item_error = Status::Error("items[" + std::to_string(index) + "]: " + s.message());
        return false;
      }
      store_->AddListItem(list_kind, api_version, item, index++);
      return !stopping();
    };
    callbacks.on_oversized = [&](size_t bytes) {
      // Skipped like an object that fails validation; without its text there is no key, so a
      // cached version of it is reported deleted when the list commits (fail closed).
      LOG(ERROR) << options_.resource << ": skipping list item " << index << " of " << bytes
                 << " bytes, over the " << options_.max_list_item << "-byte limit";
      stats_->list_items_too_large.fetch_add(1, std::memory_order_relaxed);
      stats_->objects_rejected.fetch_add(1, std::memory_order_relaxed);
      ++index;
    };
    Result<ApiClient::Response> response = client_->GetStreamed(
        Query(/*watch=*/false, continue_token),
        [&](std::string_view bytes) { return splitter.Feed(bytes, callbacks); },
        cancel_.get_token());
    if (!response.ok()) return response.status();
    if (response->status == kGone && !continue_token.empty() && restarts < kMaxContinueRestarts) {
      // The snapshot behind the continue token was compacted: start over.
      LOG(INFO) << options_.resource << ": list continue token expired, restarting the list";
      ++restarts;
      store_->BeginList();
      continue_token.clear();
      continue;
    }
    if (response->status != 200) return Status::Error(DescribeFailure(*response));
    if (stopping()) return Status::Error("stopping");
    const std::string page_name = "list page " + std::to_string(pages);
    if (!item_error.ok()) return Status::Error(page_name + ": " + item_error.message());
    Result<std::string> envelope = splitter.Finish();
    if (!envelope.ok()) return Status::Error(page_name + ": " + envelope.status().message());
    rapidjson::Document page;
    if (Status s = JsonText::Parse(*envelope, &page); !s.ok()) {
      return Status::Error(page_name + ": " + s.message());
    }
    // Its items came one by one; the rest still says whether this is a list kpx can use.
    store_->AddListPage(page);
    ++pages;
    resource_version = MetadataString(page, "resourceVersion");
    continue_token = MetadataString(page, "continue");
    if (continue_token.empty()) break;
  }
  if (resource_version.empty()) return Status::Error("list carries no metadata.resourceVersion");
  resource_version_ = resource_version;
  store_->CommitList();
  VLOG(2) << options_.resource << ": listed " << pages << " page(s) at resourceVersion "
          << resource_version_;
  return Status::Ok();
}

Reflector::WatchEnd Reflector::Watch(uint64_t* events) {
  WatchEnd end = WatchEnd::kClosed;
  Result<ApiClient::Response> response = client_->Stream(
      Query(/*watch=*/true, ""),
      [&](std::string_view line) { return HandleEvent(line, &end, events); }, cancel_.get_token(),
      [&](size_t limit) {
        // The event is lost to this watch; the object's next change or a relist brings it.
        LOG(ERROR) << options_.resource << ": dropped a watch event larger than " << (limit >> 20)
                   << " MiB";
        stats_->watch_events_dropped.fetch_add(1, std::memory_order_relaxed);
      },
      // The server answered the watch: in touch again, even if nothing changes for minutes.
      [this] { InTouch(); });
  if (stopping()) return WatchEnd::kStopped;
  if (!response.ok()) {
    LOG(WARNING) << options_.resource << ": watch from " << resource_version_ << " failed after "
                 << *events << " event(s): " << response.status().message();
    return WatchEnd::kError;
  }
  if (response->status == kGone) return WatchEnd::kGone;
  if (response->status != 200) {
    LOG(WARNING) << options_.resource << ": watch refused: " << DescribeFailure(*response);
    return WatchEnd::kError;
  }
  if (end == WatchEnd::kClosed && *events == 0) {
    VLOG(2) << options_.resource << ": watch ended without events";
  }
  return end;
}

bool Reflector::HandleEvent(std::string_view line, WatchEnd* end, uint64_t* events) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return !stopping();
  rapidjson::Document event;
  Status parsed = JsonText::Parse(line, &event);
  const rapidjson::Value* object = nullptr;
  std::string type;
  if (parsed.ok() && event.IsObject()) {
    type = StringAt(event, "type");
    object = json::Member(event, "object");
  }
  if (!parsed.ok() || object == nullptr || !object->IsObject() || type.empty()) {
    LOG(WARNING) << options_.resource << ": skipping malformed watch event: "
                 << (parsed.ok() ? std::string("no type or object") : parsed.message());
    stats_->objects_rejected.fetch_add(1, std::memory_order_relaxed);
    return !stopping();
  }
  if (type == "ERROR") {
    if (IsTooOldResourceVersion(*object)) {
      *end = WatchEnd::kGone;
    } else {
      LOG(WARNING) << options_.resource << ": watch error event: code " << StatusCode(*object)
                   << ": " << json::Quote(StringAt(*object, "message"));
      *end = WatchEnd::kError;
    }
    return false;
  }
  WatchEventType event_type;
  if (type == "ADDED") {
    event_type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    event_type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    event_type = WatchEventType::kDeleted;
  } else if (type == "BOOKMARK") {
    // A bookmark only moves the resume point forward: its object carries nothing else.
    const std::string rv = MetadataString(*object, "resourceVersion");
    if (!rv.empty()) resource_version_ = rv;
    return !stopping();
  } else {
    LOG(WARNING) << options_.resource << ": skipping watch event of unknown type "
                 << json::Quote(type);
    stats_->objects_rejected.fetch_add(1, std::memory_order_relaxed);
    return !stopping();
  }
  ++*events;
  store_->Apply(event_type, *object);
  // The event happened at this version whether or not kpx could use its object.
  const std::string rv = MetadataString(*object, "resourceVersion");
  if (!rv.empty()) resource_version_ = rv;
  return !stopping();
}

}  // namespace kpx
