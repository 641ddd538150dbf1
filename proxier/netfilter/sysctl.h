#pragma once

#include <string>

#include "base/status.h"

namespace kpx {

// Kernel parameters by their /proc/sys path ("net/ipv4/vs/conntrack"). Implementations:
// ProcSysctl and FakeSysctl.
class Sysctl {
 public:
  virtual ~Sysctl() = default;
  // The value without the trailing newline.
  virtual Result<std::string> Get(const std::string& path) = 0;
  virtual Status Set(const std::string& path, const std::string& value) = 0;
};

}  // namespace kpx
