#pragma once

#include <utility>

#include "proxier/netfilter/local_address_lister.h"

namespace kpx {

// A host with the addresses a test gives it; `fail` makes the next listings fail.
class FakeLocalAddressLister final : public LocalAddressLister {
 public:
  explicit FakeLocalAddressLister(std::vector<IpAddress> addresses = {})
      : addresses_(std::move(addresses)) {}
  Result<std::vector<IpAddress>> List() override {
    ++calls_;
    if (fail_) return Status::Error("fake: listing failed");
    return addresses_;
  }
  void Set(std::vector<IpAddress> addresses) { addresses_ = std::move(addresses); }
  void SetFailing(bool fail) { fail_ = fail; }
  int calls() const { return calls_; }

 private:
  std::vector<IpAddress> addresses_;
  bool fail_ = false;
  int calls_ = 0;
};

}  // namespace kpx
