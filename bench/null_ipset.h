#pragma once

#include <string>
#include <string_view>

#include "proxier/netfilter/ipset.h"

namespace kpx {

// kpx-sync-bench's --null-kernel ipsets: every restore accepted, nothing kept (see
// NullIpvsHandle), and a save that shows no set.
class NullIpset : public Ipset {
 public:
  Status Restore(std::string_view) override { return Status::Ok(); }
  Result<std::string> Save() override { return std::string(); }
  Status Destroy(const std::string&) override { return Status::Ok(); }
};

}  // namespace kpx
