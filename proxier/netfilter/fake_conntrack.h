#pragma once

#include <string>
#include <utility>
#include <vector>

#include "proxier/netfilter/conntrack.h"

namespace kpx {

// Records every filter it was asked to delete by, in order; tests read `deleted()` and `calls()`.
// `Fail(message)` makes every later call fail (after recording it), as a kernel refusal would.
class FakeConntrack : public Conntrack {
 public:
  Status Delete(const std::vector<ConntrackFilter>& filters) override {
    ++calls_;
    deleted_.insert(deleted_.end(), filters.begin(), filters.end());
    return failure_.empty() ? Status::Ok() : Status::Error(failure_);
  }
  void Fail(std::string message) { failure_ = std::move(message); }
  const std::vector<ConntrackFilter>& deleted() const { return deleted_; }
  int calls() const { return calls_; }
  void Clear() {
    deleted_.clear();
    calls_ = 0;
  }

 private:
  std::vector<ConntrackFilter> deleted_;
  int calls_ = 0;
  std::string failure_;
};

}  // namespace kpx
