#pragma once

#include <map>
#include <string>

#include "proxier/netfilter/nfacct.h"

namespace kpx {

// Counters in memory; `unsupported` makes every call fail, as on a kernel without nfnetlink_acct.
class FakeNfacct final : public Nfacct {
 public:
  Status Ensure(const std::string& name) override {
    if (unsupported) return Status::Error("fake: nfacct unsupported");
    counters.try_emplace(name, 0);
    return Status::Ok();
  }
  Result<uint64_t> Packets(const std::string& name) override {
    auto it = counters.find(name);
    if (unsupported || it == counters.end()) return Status::Error("fake: no counter " + name);
    return it->second;
  }
  std::map<std::string, uint64_t> counters;
  bool unsupported = false;
};

}  // namespace kpx
