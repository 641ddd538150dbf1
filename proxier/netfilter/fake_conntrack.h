#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxier/netfilter/conntrack.h"

namespace kpx {

// Records every filter it was asked to delete by, in order; tests read `deleted()` and `calls()`.
// It holds no table: a call reports one entry deleted per filter, or `SetEntriesPerCall(n)`
// entries. `Fail(message)` makes every later call fail (after recording it) having deleted
// nothing, as a kernel refusal would.
class FakeConntrack : public Conntrack {
 public:
  Status Delete(const std::vector<ConntrackFilter>& filters) override {
    ++calls_;
    deleted_.insert(deleted_.end(), filters.begin(), filters.end());
    if (!failure_.empty()) {
      last_deleted_ = 0;
      return Status::Error(failure_);
    }
    last_deleted_ = entries_per_call_ ? *entries_per_call_ : filters.size();
    return Status::Ok();
  }
  uint64_t last_deleted() const override { return last_deleted_; }
  void SetEntriesPerCall(uint64_t n) { entries_per_call_ = n; }
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
  uint64_t last_deleted_ = 0;
  std::optional<uint64_t> entries_per_call_;
  std::string failure_;
};

}  // namespace kpx
