#pragma once

#include <vector>

#include "proxier/netfilter/conntrack.h"

namespace kpx {

// Records every filter it was asked to delete by, in order; tests read `deleted()` and `calls()`.
class FakeConntrack : public Conntrack {
 public:
  Status Delete(const std::vector<ConntrackFilter>& filters) override {
    ++calls_;
    deleted_.insert(deleted_.end(), filters.begin(), filters.end());
    return Status::Ok();
  }
  const std::vector<ConntrackFilter>& deleted() const { return deleted_; }
  int calls() const { return calls_; }
  void Clear() {
    deleted_.clear();
    calls_ = 0;
  }

 private:
  std::vector<ConntrackFilter> deleted_;
  int calls_ = 0;
};

}  // namespace kpx
