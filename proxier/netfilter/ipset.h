#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace kpx {

// The seam to the kernel's ipsets, in ipset(8)'s own restore/save language. Implementations:
// LibipsetIpset (in process, over libipset) and FakeIpset.
class Ipset {
 public:
  virtual ~Ipset() = default;
  // "ipset restore -exist": create (kept if it exists with the same type), add (kept if present),
  // del (ignored if absent), flush, destroy lines. Stops at the first failing line, and says which:
  // the kernel then holds every line before it (LibipsetIpset), while FakeIpset rolls the whole
  // text back; callers must not rely on either (IPVS resyncs in full after a failure).
  virtual Status Restore(std::string_view text) = 0;
  // "ipset save": every set with its entries.
  virtual Result<std::string> Save() = 0;
  // Destroys one set; a missing set is not an error. Fails while iptables still references it.
  virtual Status Destroy(const std::string& name) = 0;
};

}  // namespace kpx
