#include "tests/support/counting_handler.h"

namespace kpx::testing {

bool CountingHandler::WaitSynced(std::chrono::seconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return synced_ == 3; });
}

int CountingHandler::services() {
  std::lock_guard<std::mutex> lock(mu_);
  return services_;
}

int CountingHandler::slices() {
  std::lock_guard<std::mutex> lock(mu_);
  return slices_;
}

int CountingHandler::nodes() {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_;
}

void CountingHandler::Bump(int* n) {
  std::lock_guard<std::mutex> lock(mu_);
  ++*n;
  cv_.notify_all();
}

void CountingHandler::Drop(int* n) {
  std::lock_guard<std::mutex> lock(mu_);
  --*n;
}

}  // namespace kpx::testing
