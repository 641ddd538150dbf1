#include "tests/k8s-watch/client/recording_handler.h"

namespace kpx::testing {

template <typename T>
void RecordingHandler::Apply(char op, const char* kind, std::map<std::string, T>& view,
                             const T* old_object, const T& object) {
  std::lock_guard<std::mutex> lock(mu_);
  // The source promises one call at a time.
  if (++in_flight_ != 1) violations_.push_back("concurrent handler calls");
  const std::string key = object.meta.Key();
  calls_.push_back({op, kind, key, object.meta.resource_version});
  auto it = view.find(key);
  switch (op) {
    case 'A':
      if (it != view.end()) violations_.push_back(std::string("add of known ") + kind + " " + key);
      view[key] = object;
      break;
    case 'U':
      if (it == view.end()) {
        violations_.push_back(std::string("update of unknown ") + kind + " " + key);
      } else if (!(it->second == *old_object)) {
        violations_.push_back(std::string("stale old object in update of ") + kind + " " + key);
      }
      if (*old_object == object) {
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

void RecordingHandler::OnServiceAdd(const Service& s) {
  Apply('A', "service", services_, static_cast<decltype(&s)>(nullptr), s);
}
void RecordingHandler::OnServiceUpdate(const Service& o, const Service& s) {
  Apply('U', "service", services_, &o, s);
}
void RecordingHandler::OnServiceDelete(const Service& s) {
  Apply('D', "service", services_, static_cast<decltype(&s)>(nullptr), s);
}
void RecordingHandler::OnEndpointSliceAdd(const EndpointSlice& s) {
  Apply('A', "slice", slices_, static_cast<decltype(&s)>(nullptr), s);
}
void RecordingHandler::OnEndpointSliceUpdate(const EndpointSlice& o, const EndpointSlice& s) {
  Apply('U', "slice", slices_, &o, s);
}
void RecordingHandler::OnEndpointSliceDelete(const EndpointSlice& s) {
  Apply('D', "slice", slices_, static_cast<decltype(&s)>(nullptr), s);
}
void RecordingHandler::OnNodeAdd(const Node& n) {
  Apply('A', "node", nodes_, static_cast<decltype(&n)>(nullptr), n);
}
void RecordingHandler::OnNodeUpdate(const Node& o, const Node& n) {
  Apply('U', "node", nodes_, &o, n);
}
void RecordingHandler::OnNodeDelete(const Node& n) {
  Apply('D', "node", nodes_, static_cast<decltype(&n)>(nullptr), n);
}

void RecordingHandler::OnServiceSynced() {
  std::lock_guard<std::mutex> lock(mu_);
  if (++synced_["service"] > 1) violations_.push_back("service synced twice");
  calls_.push_back({'S', "service", "", ""});
  cv_.notify_all();
}

void RecordingHandler::OnEndpointSliceSynced() {
  std::lock_guard<std::mutex> lock(mu_);
  if (++synced_["slice"] > 1) violations_.push_back("slice synced twice");
  calls_.push_back({'S', "slice", "", ""});
  cv_.notify_all();
}

void RecordingHandler::OnNodeSynced() {
  std::lock_guard<std::mutex> lock(mu_);
  if (++synced_["node"] > 1) violations_.push_back("node synced twice");
  calls_.push_back({'S', "node", "", ""});
  cv_.notify_all();
}

bool RecordingHandler::WaitUntil(const std::function<bool()>& predicate,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, predicate);
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
