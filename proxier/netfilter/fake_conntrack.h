#pragma once

#include <vector>

#include "proxier/netfilter/conntrack.h"

namespace kpx {

// Records every deletion; tests read `deleted()`.
class FakeConntrack : public Conntrack {
 public:
  Status Delete(const ConntrackFilter& filter) override {
    deleted_.push_back(filter);
    return Status::Ok();
  }
  const std::vector<ConntrackFilter>& deleted() const { return deleted_; }
  void Clear() { deleted_.clear(); }

 private:
  std::vector<ConntrackFilter> deleted_;
};

}  // namespace kpx
