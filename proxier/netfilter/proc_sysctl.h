#pragma once

#include <string>

#include "proxier/netfilter/sysctl.h"

namespace kpx {

// Sysctl over files under /proc/sys (or another root, for tests).
class ProcSysctl : public Sysctl {
 public:
  explicit ProcSysctl(std::string root = "/proc/sys") : root_(std::move(root)) {}
  Result<std::string> Get(const std::string& path) override;
  Status Set(const std::string& path, const std::string& value) override;

 private:
  std::string root_;
};

}  // namespace kpx
