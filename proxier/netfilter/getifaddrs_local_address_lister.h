#pragma once

#include "proxier/netfilter/local_address_lister.h"

namespace kpx {

// getifaddrs(3): one call per listing, no state; safe from any thread.
class GetifaddrsLocalAddressLister final : public LocalAddressLister {
 public:
  Result<std::vector<IpAddress>> List() override;
};

}  // namespace kpx
