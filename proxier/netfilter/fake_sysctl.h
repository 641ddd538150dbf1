#pragma once

#include <map>
#include <string>

#include "proxier/netfilter/sysctl.h"

namespace kpx {

// Sysctls in a map. Unknown paths fail like a missing /proc file (module not loaded).
class FakeSysctl : public Sysctl {
 public:
  FakeSysctl();
  Result<std::string> Get(const std::string& path) override;
  Status Set(const std::string& path, const std::string& value) override;

  std::map<std::string, std::string>& values() { return values_; }
  int writes() const { return writes_; }

 private:
  std::map<std::string, std::string> values_;
  int writes_ = 0;
};

}  // namespace kpx
