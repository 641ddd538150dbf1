#include "tests/support/recording_handler.h"

#include <string_view>

#include "k8s-watch/objects/kept_service.h"

namespace kpx::testing {

namespace {

// The event text names slices "endpointslice", as the API kind does.
std::string EventText(char op, std::string_view kind, const std::string& key) {
  std::string out = kind == "slice" ? "endpointslice" : std::string(kind);
  switch (op) {
    case 'A':
      out += " add ";
      break;
    case 'U':
      out += " update ";
      break;
    case 'D':
      out += " delete ";
      break;
    default:
      return out + " synced";
  }
  return out + key;
}

// The old object of an Update is the one last handed over, except that a source may hand over
// only an EndpointSlice's identity (see EndpointSliceHandler).
template <typename T>
bool IsOldVersionOf(const T& old_object, const T& kept) {
  return old_object == kept;
}
bool IsOldVersionOf(const EndpointSlice& old_object, const EndpointSlice& kept) {
  if (old_object == kept) return true;
  const ObjectMeta& a = old_object.meta;
  const ObjectMeta& b = kept.meta;
  return old_object.endpoints.empty() && old_object.ports.empty() && a.labels.empty() &&
         a.annotations.empty() && a.name == b.name && a.namespace_ == b.namespace_ &&
         a.uid == b.uid && a.resource_version == b.resource_version &&
         old_object.service_name == kept.service_name &&
         old_object.address_type == kept.address_type;
}

bool IsOldVersionOf(const Service& old_object, const Service& kept) {
  return old_object == kept || (old_object == KeptService::IdentityOf(old_object) &&
                                ObjectIdentity::Of(old_object.meta).Matches(kept.meta));
}

}  // namespace

template <typename T>
void RecordingHandler::Apply(char op, const char* kind, std::map<std::string, T>& view,
                             const T* old_object, const T& object,
                             std::optional<T> Call::*old_field, std::optional<T> Call::*field) {
  // The source promises one call at a time.
  const bool concurrent = in_flight_.fetch_add(1) != 0;
  std::lock_guard<std::mutex> lock(mu_);
  if (concurrent) violations_.push_back("concurrent handler calls");
  const std::string key = object.meta.Key();
  Call call{op, kind, key, object.meta.resource_version, EventText(op, kind, key), {}, {}, {},
            {}, {},   {}};
  if (old_object != nullptr) call.*old_field = *old_object;
  call.*field = object;
  calls_.push_back(std::move(call));
  auto it = view.find(key);
  switch (op) {
    case 'A':
      if (it != view.end()) violations_.push_back(std::string("add of known ") + kind + " " + key);
      view[key] = object;
      break;
    case 'U':
      if (it == view.end()) {
        violations_.push_back(std::string("update of unknown ") + kind + " " + key);
      } else if (!IsOldVersionOf(*old_object, it->second)) {
        violations_.push_back(std::string("stale old object in update of ") + kind + " " + key);
      }
      if (*old_object == object || (it != view.end() && it->second == object)) {
        violations_.push_back(std::string("no-op update of ") + kind + " " + key);
      }
      view[key] = object;
      break;
    case 'D':
      if (it == view.end()) {
        violations_.push_back(std::string("delete of unknown ") + kind + " " + key);
      } else {
        view.erase(it);
      }
      break;
  }
  --in_flight_;
  cv_.notify_all();
}

void RecordingHandler::Synced(const char* kind) {
  const bool concurrent = in_flight_.fetch_add(1) != 0;
  std::lock_guard<std::mutex> lock(mu_);
  if (concurrent) violations_.push_back("concurrent handler calls");
  if (++synced_[kind] > 1) violations_.push_back(std::string(kind) + " synced twice");
  calls_.push_back({'S', kind, "", "", EventText('S', kind, ""), {}, {}, {}, {}, {}, {}});
  --in_flight_;
  cv_.notify_all();
}

void RecordingHandler::OnServiceAdd(const Service& s) {
  Apply<Service>('A', "service", services_, nullptr, s, &Call::old_service, &Call::service);
}
void RecordingHandler::OnServiceUpdate(const Service& o, const Service& s) {
  Apply('U', "service", services_, &o, s, &Call::old_service, &Call::service);
}
void RecordingHandler::OnServiceDelete(const Service& s) {
  Apply<Service>('D', "service", services_, nullptr, s, &Call::old_service, &Call::service);
}
void RecordingHandler::OnServiceSynced() { Synced("service"); }

void RecordingHandler::OnEndpointSliceAdd(const EndpointSlice& s) {
  Apply<EndpointSlice>('A', "slice", slices_, nullptr, s, &Call::old_slice, &Call::slice);
}
void RecordingHandler::OnEndpointSliceUpdate(const EndpointSlice& o, const EndpointSlice& s) {
  Apply('U', "slice", slices_, &o, s, &Call::old_slice, &Call::slice);
}
void RecordingHandler::OnEndpointSliceDelete(const EndpointSlice& s) {
  Apply<EndpointSlice>('D', "slice", slices_, nullptr, s, &Call::old_slice, &Call::slice);
}
void RecordingHandler::OnEndpointSliceSynced() { Synced("slice"); }

void RecordingHandler::OnNodeAdd(const Node& n) {
  Apply<Node>('A', "node", nodes_, nullptr, n, &Call::old_node, &Call::node);
}
void RecordingHandler::OnNodeUpdate(const Node& o, const Node& n) {
  Apply('U', "node", nodes_, &o, n, &Call::old_node, &Call::node);
}
void RecordingHandler::OnNodeDelete(const Node& n) {
  Apply<Node>('D', "node", nodes_, nullptr, n, &Call::old_node, &Call::node);
}
void RecordingHandler::OnNodeSynced() { Synced("node"); }

bool RecordingHandler::WaitUntil(const std::function<bool()>& predicate,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, predicate);
}

bool RecordingHandler::WaitForCalls(size_t n, std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return calls_.size() >= n; }, timeout);
}

std::map<std::string, Service> RecordingHandler::services() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_;
}

std::map<std::string, EndpointSlice> RecordingHandler::slices() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slices_;
}

std::map<std::string, Node> RecordingHandler::nodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_;
}

std::vector<RecordingHandler::Call> RecordingHandler::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<std::string> RecordingHandler::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(calls_.size());
  for (const Call& c : calls_) out.push_back(c.event);
  return out;
}

size_t RecordingHandler::call_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_.size();
}

std::vector<std::string> RecordingHandler::violations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return violations_;
}

int RecordingHandler::synced(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  return synced_locked(kind);
}

int RecordingHandler::synced_locked(const std::string& kind) const {
  auto it = synced_.find(kind);
  return it == synced_.end() ? 0 : it->second;
}

void RecordingHandler::ClearCalls() {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.clear();
}

}  // namespace kpx::testing
