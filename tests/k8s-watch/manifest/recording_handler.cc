#include "tests/k8s-watch/manifest/recording_handler.h"

#include <utility>

namespace kpx::testing {

void RecordingHandler::Record(Call call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(call));
  }
  cv_.notify_all();
}

void RecordingHandler::OnServiceAdd(const Service& s) {
  Call c;
  c.event = "service add " + s.meta.Key();
  c.service = s;
  Record(std::move(c));
}
void RecordingHandler::OnServiceUpdate(const Service& old_s, const Service& s) {
  Call c;
  c.event = "service update " + s.meta.Key();
  c.old_service = old_s;
  c.service = s;
  Record(std::move(c));
}
void RecordingHandler::OnServiceDelete(const Service& s) {
  Call c;
  c.event = "service delete " + s.meta.Key();
  c.service = s;
  Record(std::move(c));
}
void RecordingHandler::OnServiceSynced() {
  Call c;
  c.event = "service synced";
  Record(std::move(c));
}

void RecordingHandler::OnEndpointSliceAdd(const EndpointSlice& s) {
  Call c;
  c.event = "endpointslice add " + s.meta.Key();
  c.slice = s;
  Record(std::move(c));
}
void RecordingHandler::OnEndpointSliceUpdate(const EndpointSlice& old_s, const EndpointSlice& s) {
  Call c;
  c.event = "endpointslice update " + s.meta.Key();
  c.old_slice = old_s;
  c.slice = s;
  Record(std::move(c));
}
void RecordingHandler::OnEndpointSliceDelete(const EndpointSlice& s) {
  Call c;
  c.event = "endpointslice delete " + s.meta.Key();
  c.slice = s;
  Record(std::move(c));
}
void RecordingHandler::OnEndpointSliceSynced() {
  Call c;
  c.event = "endpointslice synced";
  Record(std::move(c));
}

void RecordingHandler::OnNodeAdd(const Node& n) {
  Call c;
  c.event = "node add " + n.meta.Key();
  c.node = n;
  Record(std::move(c));
}
void RecordingHandler::OnNodeUpdate(const Node& old_n, const Node& n) {
  Call c;
  c.event = "node update " + n.meta.Key();
  c.old_node = old_n;
  c.node = n;
  Record(std::move(c));
}
void RecordingHandler::OnNodeDelete(const Node& n) {
  Call c;
  c.event = "node delete " + n.meta.Key();
  c.node = n;
  Record(std::move(c));
}
void RecordingHandler::OnNodeSynced() {
  Call c;
  c.event = "node synced";
  Record(std::move(c));
}

bool RecordingHandler::WaitForCalls(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return calls_.size() >= n; });
}

std::vector<RecordingHandler::Call> RecordingHandler::Calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<std::string> RecordingHandler::Events() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const Call& c : calls_) out.push_back(c.event);
  return out;
}

size_t RecordingHandler::Count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_.size();
}

}  // namespace kpx::testing
